// The web console end to end in a real headless Chromium: sign up, create an API key with chosen
// permissions and advanced settings, read its secret once, use it from krakenex to place an
// order, see the order and its fill on the pages, cancel it from the page, revoke the key and see
// krakenex refused with EAPI:Invalid key. Then the log-in lockout, log-out, and what the
// browser keeps (cookie flags, no secret in any page after its one showing).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, krakenex, signUp, logIn } from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("sign up, a key with chosen permissions and settings, krakenex order, fill, cancel, revoke", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  const errors = [];
  // Failed requests the test makes on purpose (a refused form is a 400) are not errors here;
  // a script error or a Content-Security-Policy violation is.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  page.on("response", (r) => r.status() === 404 && errors.push("404: " + r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));

  await signUp(page, server.url, "alice", "alice-password-1");
  await assert.doesNotReject(page.getByRole("cell", { name: "10000.0000" }).first().waitFor());

  // The session cookie: HTTP-only, SameSite=Strict, not readable by scripts.
  const [cookie] = (await context.cookies()).filter((c) => c.name === "calamari_session");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie), "");

  // Withdraw Funds on an unverified account: explained on the form, refused as by the CLI/API rule.
  await page.getByRole("link", { name: "API keys" }).click();
  await assert.doesNotReject(page.getByText("Withdraw Funds needs a verified account").first().waitFor());
  await page.getByLabel("Key description").fill("bot");
  await page.getByLabel("Withdraw", { exact: true }).check();
  await page.getByRole("button", { name: "Generate key" }).click();
  await page.getByRole("alert").filter({ hasText: "Not generated: Withdraw Funds needs a verified account" }).waitFor();

  // The key: four permissions, and advanced settings (nonce window, IP allowlist, expiry).
  await page.getByLabel("Key description").fill("bot");
  for (const p of ["Query", "Query open orders & trades", "Query closed orders & trades", "Create & modify orders", "Cancel & close orders"]) {
    await page.getByLabel(p, { exact: true }).check();
  }
  await page.getByText("Advanced settings").click();
  await page.getByLabel("Nonce window").fill("5");
  await page.getByLabel("IP allowlist").fill("127.0.0.1\n::1");
  await page.getByLabel("Key expiration (UTC)").fill("2099-01-01T00:00");
  await page.getByRole("button", { name: "Generate key" }).click();
  await page.getByRole("heading", { name: "Key generated" }).waitFor();
  await assert.doesNotReject(page.getByText("It is shown this once").waitFor());
  const key = await page.getByLabel("API key").inputValue();
  const secret = await page.getByLabel("Private key").inputValue();
  assert.match(key, /^[A-Za-z0-9+/]{56}$/);
  assert.match(secret, /^[A-Za-z0-9+/=]{88}$/);
  // The copy button puts the private key on the clipboard.
  await page.locator('button[data-copy="private-key"]').click();
  await page.locator('button[data-copy="private-key"]', { hasText: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

  // The list: the key's name, shortened key, permissions; the secret nowhere, ever again.
  await page.getByRole("link", { name: "Done: back to the keys" }).click();
  const row = page.locator('tr[data-key-name="bot"]');
  await row.waitFor();
  const rowText = await row.innerText();
  assert.ok(rowText.includes(key.slice(0, 8) + "…" + key.slice(-4)), rowText);
  assert.match(rowText, /Query Funds, Query Open Orders & Trades, Query Closed Orders & Trades, Create & Modify Orders, Cancel\/Close Orders/);
  assert.ok(!(await page.content()).includes(secret), "the secret is not on the keys page");
  // Back to the POST's answer: not in the cache (no-store), Chromium would have to post again.
  await page.goBack().catch((e) => assert.match(String(e), /ERR_CACHE_MISS/));
  let html = null;
  for (let i = 0; html === null && i < 50; i++) {
    html = await page.content().catch(() => null);
    if (html === null) await page.waitForTimeout(100);
  }
  assert.ok(html !== null && !html.includes(secret), "going back does not show the secret again (no-store)");

  // krakenex places an order with the key (it rests: a buy far below the market).
  const placed = krakenex(server.url, key, secret, "AddOrder", { pair: "XBTUSD", type: "buy", ordertype: "limit", price: "1000", volume: "0.02" });
  assert.deepEqual(placed.error, [], JSON.stringify(placed));
  const txid = placed.result.txid[0];
  // The demo account sells into it: a partial fill.
  const sold = krakenex(server.url, server.demo.key, server.demo.secret, "AddOrder", { pair: "XBTUSD", type: "sell", ordertype: "limit", price: "1000", volume: "0.01" });
  assert.deepEqual(sold.error, [], JSON.stringify(sold));

  await page.goto(server.url + "/console/orders");
  const open = page.locator(`tr[data-txid="${txid}"]`).first();
  await open.waitFor();
  assert.match(await open.innerText(), /XBTUSD\s+buy\s+limit\s+1000\.0\s+0\.02000000\s+0\.01000000\s+open/);
  await page.getByRole("link", { name: "Trades" }).click();
  await assert.doesNotReject(page.getByRole("cell", { name: txid }).waitFor());
  await page.getByRole("link", { name: "Ledger" }).click();
  await page.getByLabel("Type").selectOption("trade");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/type=trade/);
  assert.match(await page.locator("table").innerText(), /trade\s+XXBT\s+0\.0100000000/);

  // Cancel from the page: through the API's CancelOrder.
  await page.getByRole("link", { name: "Orders" }).click();
  await page.getByRole("button", { name: `Cancel order ${txid}` }).click();
  await page.getByText("Canceled 1 order(s).").waitFor();
  assert.equal(await page.getByRole("button", { name: `Cancel order ${txid}` }).count(), 0);
  assert.match(await page.locator(`tr[data-txid="${txid}"]`).innerText(), /canceled/);
  const seen = krakenex(server.url, key, secret, "QueryOrders", { txid });
  assert.equal(seen.result[txid].status, "canceled");

  // Revoke with confirmation; krakenex is refused.
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByRole("link", { name: "Revoke key bot" }).click();
  await page.getByText("This cannot be undone").waitFor();
  await page.getByRole("button", { name: "Revoke key bot" }).click();
  await page.getByText("Key bot revoked.").waitFor();
  const refused = krakenex(server.url, key, secret, "Balance");
  assert.deepEqual(refused.error, ["EAPI:Invalid key"]);

  // Log out: the session is gone.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByText("You are logged out.").waitFor();
  await page.goto(server.url + "/console/balances");
  await page.waitForURL(/\/console\/login$/);
  assert.deepEqual(errors, [], "no script or CSP error in the browser");
  await context.close();
});

test("a CLI-made account gets a password; five wrong ones lock it; keyboard-only log-in", async () => {
  server.cli("account", "create", "bob");
  server.cli("account", "password", "bob", { input: "bob-password-1\n" });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url + "/console/login");
  for (let i = 0; i < 5; i++) {
    await page.getByLabel("Account name").fill("bob");
    await page.getByLabel("Password").fill("wrong-" + i);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("Wrong account name or password.").waitFor();
  }
  await page.getByLabel("Password").fill("bob-password-1");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByText(/this account is locked for \d+ more seconds/).waitFor();
  // Another account logs in with the keyboard alone (Tab to the fields, Enter submits).
  server.cli("account", "create", "carol");
  server.cli("account", "password", "carol", { input: "carol-password-1\n" });
  await page.goto(server.url + "/console/login");
  // The name field has the focus on arrival (autofocus). Chromium may apply it a moment after
  // the load event: wait for it (typing before it went to the page body once in CI).
  await page.waitForFunction(() => document.activeElement?.id === "account");
  await page.keyboard.type("carol");
  await page.keyboard.press("Tab");
  await page.keyboard.type("carol-password-1");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/console\/balances$/);
  await page.getByRole("heading", { name: "Balances" }).waitFor();
  await context.close();
});

test("sign-up disabled by config; the demo account logs in once given a password", async () => {
  const { writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const cfg = join(server.dir, "..", `console-nosignup-${process.pid}.toml`);
  writeFileSync(cfg, "[console]\nsignup = false\n");
  const closed = await startServer(["--config", cfg]);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const answer = await page.goto(closed.url + "/console/signup");
    assert.equal(answer.status(), 403);
    await page.getByText("Sign-up is turned off").waitFor();
    closed.cli("account", "password", "demo", { input: "demo-password-1\n" });
    await logIn(page, closed.url, "demo", "demo-password-1");
    await page.getByRole("cell", { name: "100000.0000" }).first().waitFor();
    await context.close();
  } finally {
    await closed.stop();
  }
});
