// Screenshots of every console page at desktop and phone width into docs/console/ (run by
// scripts/screenshots). A fresh server; the demo account gets a password, a second account
// trades with it so that every page has something on it. The market view is shot on a second
// server with the simulated market on (a quiet exchange has no candles to show).
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
  await atBothWidths(browser, shots, async (page, kind, shot) => {
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
  });
  await marketShots(browser, shots);
  await browser.close();
  const md = [
    "# The web console",
    "",
    "Every page at desktop (1280 px) and phone (390 px) width, regenerated by `scripts/screenshots`",
    "from a fresh server (the demo account, trading with a second account; the market view on a",
    "second server with the simulated market on).",
    "",
    ...shots.flatMap(([name, title]) => [`## ${title}`, "", `![${title}, desktop](${name}-desktop.png)`, `![${title}, phone](${name}-phone.png)`, ""]),
  ].join("\n");
  writeFileSync(join(out, "README.md"), md);
  console.log(`${shots.length * 2} screenshots in ${out}`);
} finally {
  await server.stop();
}

/** The market view (board, a pair's page with a ticket order placed) on a server whose market moves. */
async function marketShots(browser, shots) {
  const live = await startServer(["--market", "on"]);
  try {
    live.cli("account", "password", "demo", { input: "demo-password\n" });
    await atBothWidths(browser, shots, async (page, kind, shot) => {
      await logIn(page, live.url, "demo", "demo-password");
      await page.goto(live.url + "/console/markets");
      await page.locator("#live", { hasText: "Live" }).waitFor();
      await page.waitForTimeout(3000);
      await shot("markets", "Markets: the ticker board of the fifteen pairs, live");
      await page.goto(live.url + "/console/markets/XBTUSD?interval=15");
      await page.waitForFunction(() => Number(document.getElementById("chart").dataset.candles) > 0);
      await page.waitForFunction(() => Number(document.getElementById("book-status").dataset.verified) > 0);
      const bid = await page.locator("#bids tr").first().locator("button.px").innerText();
      await page.getByLabel("Volume (BTC)").fill("0.01");
      await page.getByLabel("Price (USD)").fill(String(Math.floor(Number(bid) * 0.98)));
      await page.getByRole("button", { name: "Place order" }).click();
      await page.getByRole("status").filter({ hasText: /placed/ }).waitFor();
      await page.waitForFunction(() => Number(document.getElementById("chart").dataset.candles) > 0);
      await page.waitForFunction(() => Number(document.getElementById("book-status").dataset.verified) > 0);
      await page.waitForTimeout(1500);
      await shot("market-pair", "A pair: candles and volume (every interval), the ladder, depth, trades and the order ticket");
    });
  } finally {
    await live.stop();
  }
}

/** Runs `visit(page, kind, shot)` at desktop (1280 × 800) and phone (390 × 844) width, each in a
 *  fresh browser context; `shot(name, title)` saves the whole page as NAME-KIND.png in `out` and
 *  lists the desktop ones in `shots` (the README's sections). */
async function atBothWidths(browser, shots, visit) {
  for (const [width, height, kind] of [[1280, 800, "desktop"], [390, 844, "phone"]]) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const shot = async (name, title) => {
      await page.screenshot({ path: join(out, `${name}-${kind}.png`), fullPage: true });
      if (kind === "desktop") shots.push([name, title]);
    };
    await visit(page, kind, shot);
    await context.close();
  }
}
