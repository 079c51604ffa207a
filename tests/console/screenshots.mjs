// Screenshots of every console page at desktop and phone width into docs/console/ (run by
// scripts/screenshots). A fresh server; the demo account gets a password, a second account
// trades with it so that every page has something on it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startServer, launch, logIn, BIN } from "./harness.mjs";

const out = process.argv[2] || "docs/console";
mkdirSync(out, { recursive: true });
const server = await startServer();
const call = (key, method, ...params) =>
  execFileSync(BIN, ["call", method, ...params, "--url", server.url], {
    encoding: "utf8",
    env: { ...process.env, KRAKEN_API_KEY: key.key, KRAKEN_API_SECRET: key.secret },
  });
try {
  server.cli("account", "password", "demo", { input: "demo-password\n" });
  server.cli("account", "create", "maker");
  server.cli("account", "tier", "maker", "intermediate");
  server.cli("deposit", "--account", "maker", "XBT", "2");
  server.cli("deposit", "--account", "maker", "USD", "50000");
  const made = JSON.parse(server.cli("key", "create", "--account", "maker", "--name", "mm", "--permissions", "all", "--json"));
  const maker = { key: made.key, secret: made.secret };
  call(maker, "AddOrder", "pair=XBTUSD", "type=sell", "ordertype=limit", "price=88100.0", "volume=0.25");
  call(server.demo, "AddOrder", "pair=XBTUSD", "type=buy", "ordertype=limit", "price=88100.0", "volume=0.1");
  call(server.demo, "AddOrder", "pair=XBTUSD", "type=buy", "ordertype=market", "volume=0.02");
  call(maker, "AddOrder", "pair=XBTUSD", "type=buy", "ordertype=limit", "price=87000.0", "volume=0.3");
  call(server.demo, "AddOrder", "pair=XBTUSD", "type=sell", "ordertype=limit", "price=87000.0", "volume=0.05");
  call(server.demo, "AddOrder", "pair=XBTUSD", "type=buy", "ordertype=limit", "price=85000.0", "volume=0.2");
  call(server.demo, "AddOrder", "pair=XBTUSD", "type=sell", "ordertype=limit", "price=92000.0", "volume=0.1");
  const gone = call(server.demo, "AddOrder", "pair=XBTUSD", "type=buy", "ordertype=limit", "price=80000.0", "volume=0.1");
  call(server.demo, "CancelOrder", "txid=" + gone.match(/O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}/)[0]);

  // Funding: a deposit arrives on the demo account's Bitcoin address; an address-book entry
  // (the maker's address) to withdraw to.
  const addressOf = (key) => JSON.parse(call(key, "DepositAddresses", "asset=XBT", "method=Bitcoin", "new=true")).result[0].address;
  server.cli("chain", "deposit", addressOf(server.demo), "0.25");
  server.cli("address-book", "add", "demo", "cold-storage", "--asset", "XBT", addressOf(maker));
  const browser = await launch();
  const shots = [];
  for (const [width, height, kind] of [[1280, 800, "desktop"], [390, 844, "phone"]]) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const shot = async (name, title) => {
      await page.screenshot({ path: join(out, `${name}-${kind}.png`), fullPage: true });
      if (kind === "desktop") shots.push([name, title]);
    };
    await page.goto(server.url + "/console/login");
    await shot("login", "Log in");
    await page.goto(server.url + "/console/signup");
    await shot("signup", "Sign up");
    await logIn(page, server.url, "demo", "demo-password");
    await shot("balances", "Balances (with holds and available)");
    await page.goto(server.url + "/console/orders");
    await shot("orders", "Open orders (cancel) and closed orders");
    await page.goto(server.url + "/console/trades");
    await shot("trades", "Trade history");
    await page.goto(server.url + "/console/ledger");
    await shot("ledger", "Ledger with Kraken's filters");
    await page.goto(server.url + "/console/funding");
    if (kind === "desktop") {
      await page.getByLabel("Amount (XBT, the fee included)").fill("0.01");
      await page.getByRole("button", { name: "Withdraw", exact: true }).click();
      await page.getByText(/Withdrawal .* requested/).waitFor();
    }
    await shot("funding", "Funding: deposit addresses, deposits, the address book, withdrawals");
    await page.goto(server.url + "/console/account");
    await shot("account", "Verification tier and its limits");
    await page.goto(server.url + "/console/keys");
    await page.getByLabel("Key description").fill(`bot-${kind}`);
    for (const p of ["Query", "Query open orders & trades", "Create & modify orders", "Cancel & close orders"]) {
      await page.getByLabel(p, { exact: true }).check();
    }
    await page.getByText("Advanced settings").click();
    await page.getByLabel("Nonce window").fill("10");
    await page.getByLabel("IP allowlist").fill("127.0.0.1");
    await shot("keys", "API keys: the list and a new key's permissions and advanced settings");
    await page.getByRole("button", { name: "Generate key" }).click();
    await page.getByRole("heading", { name: "Key generated" }).waitFor();
    await shot("key-generated", "Generate: the key and private key, shown once");
    await page.goto(server.url + "/console/keys");
    await page.getByRole("link", { name: `Edit key bot-${kind}` }).click();
    await shot("key-edit", "Edit a key's permissions and settings");
    await page.goto(server.url + "/console/keys");
    await page.getByRole("link", { name: `Revoke key bot-${kind}` }).click();
    await shot("key-revoke", "Revoke, after a confirmation");
    await context.close();
  }
  await browser.close();
  const md = [
    "# The web console",
    "",
    "Every page at desktop (1280 px) and phone (390 px) width, regenerated by `scripts/screenshots`",
    "from a fresh server (the demo account, trading with a second account).",
    "",
    ...shots.flatMap(([name, title]) => [`## ${title}`, "", `![${title}, desktop](${name}-desktop.png)`, `![${title}, phone](${name}-phone.png)`, ""]),
  ].join("\n");
  writeFileSync(join(out, "README.md"), md);
  console.log(`${shots.length * 2} screenshots in ${out}`);
} finally {
  await server.stop();
}
