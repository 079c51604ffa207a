// The console's live market view in a real headless Chromium, against a server with the simulated
// market on: the ticker board's prices change while the page is open (over the WebSocket API v2;
// krakenex moves a market if the simulator is slow), a pair's chart has candles for every OHLC
// interval, the ladder shows levels whose checksums all verify, the recent trades are listed, and
// an order from the ticket (through the API's AddOrder) appears in open orders; a refused one
// shows Kraken's error string. Also: usable from the keyboard, no horizontal scrolling at phone
// width, no script or Content-Security-Policy error, and the pages work logged out (no ticket).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, krakenex, logIn } from "./harness.mjs";

const INTERVALS = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];
let server, browser;
before(async () => {
  server = await startServer(["--market", "on"]);
  server.cli("account", "password", "demo", { input: "demo-password-1\n" });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page that records script errors, CSP violations and missing files. */
async function watched(options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()}: ${r.url()}`));
  return { context, page, errors };
}

const boardPrices = (page) =>
  page.$$eval("#board tbody tr", (rows) => rows.map((r) => r.querySelector(".last .v").textContent));

test("the ticker board lists the fifteen markets and its prices change while it is open", async () => {
  const { context, page, errors } = await watched({ viewport: { width: 1280, height: 900 } });
  await page.goto(server.url + "/console/markets");
  assert.equal(await page.locator("#board tbody tr").count(), 15);
  await page.locator("#live", { hasText: "Live" }).waitFor();
  const first = await boardPrices(page);
  assert.ok(first.every((p) => /^\d+\.\d+$/.test(p)), JSON.stringify(first));
  // The simulator prints a trade per pair every 5 s on average; if nothing moved in 15 s, a
  // krakenex market order on XBTUSD moves it (through REST: the page only listens).
  let changed = false;
  for (let i = 0; i < 60 && !changed; i++) {
    await page.waitForTimeout(500);
    changed = (await boardPrices(page)).some((p, j) => p !== first[j]);
    if (!changed && i === 30) {
      const r = krakenex(server.url, server.demo.key, server.demo.secret, "AddOrder", { pair: "XBTUSD", type: "sell", ordertype: "market", volume: "0.5" });
      assert.deepEqual(r.error, [], JSON.stringify(r));
    }
  }
  assert.ok(changed, "a last price on the board changed while the page was open");
  // The 24h change is coloured by its sign.
  const classes = await page.$$eval("#board td.change", (cells) => cells.map((c) => [c.textContent, c.className]));
  for (const [t, c] of classes) {
    assert.ok((t.startsWith("+") && c.includes("up")) || (t.startsWith("-") && c.includes("down")) || c.includes("flat"), `${t} ${c}`);
  }
  // Keyboard: the market links are reachable with Tab and open with Enter.
  await page.locator("#board a", { hasText: "ETH/USD" }).focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/console\/markets\/ETHUSD$/);
  await page.getByRole("heading", { name: "ETH/USD market" }).waitFor();
  // Logged out: no ticket, a link to log in instead.
  assert.equal(await page.locator("form#ticket").count(), 0);
  await page.getByRole("link", { name: "Log in", exact: true }).first().waitFor();
  assert.deepEqual(errors, [], "no script, CSP or loading error");
  await context.close();
});

test("a pair's page: candles for every interval, a checked ladder, trades, an order from the ticket", async () => {
  const { context, page, errors } = await watched({ viewport: { width: 1280, height: 900 } });
  await logIn(page, server.url, "demo", "demo-password-1");
  await page.getByRole("link", { name: "Markets" }).click();
  await page.getByRole("link", { name: "BTC/USD" }).click();
  await page.waitForURL(/\/console\/markets\/XBTUSD$/);
  for (const interval of INTERVALS) {
    await page.goto(`${server.url}/console/markets/XBTUSD?interval=${interval}`);
    await page.waitForFunction(() => Number(document.getElementById("chart").dataset.candles) > 0, null, { timeout: 15000 });
    const candles = Number(await page.locator("#chart").getAttribute("data-candles"));
    assert.ok(candles > 0, `candles at interval ${interval}`);
    assert.ok((await page.locator("#chart canvas").count()) > 0, "the chart is drawn");
    assert.equal(await page.locator("nav.intervals a[aria-current]").count(), 1);
  }
  // 1h candles: the simulator's history gives the full 720.
  await page.goto(`${server.url}/console/markets/XBTUSD?interval=60`);
  await page.waitForFunction(() => Number(document.getElementById("chart").dataset.candles) >= 720, null, { timeout: 15000 });

  // The ladder: levels on both sides from the book channel, every message's checksum verified.
  await page.waitForFunction(() => Number(document.getElementById("book-status").dataset.verified) >= 1, null, { timeout: 15000 });
  assert.ok((await page.locator("#asks tr").count()) >= 5, "ask levels");
  assert.ok((await page.locator("#bids tr").count()) >= 5, "bid levels");
  const bestBid = Number(await page.locator("#bids tr").first().locator("button.px").innerText());
  const bestAsk = Number(await page.locator("#asks tr").last().locator("button.px").innerText());
  assert.ok(bestBid > 0 && bestAsk > bestBid, `bid ${bestBid} < ask ${bestAsk}`);
  assert.ok((await page.locator("#trades tbody tr").count()) > 0, "recent trades");

  // Keyboard: a ladder price (a button) fills the ticket's price field.
  await page.locator("#bids tr").first().locator("button.px").focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.getByLabel("Price (USD)").inputValue(), String(await page.locator("#bids tr").first().locator("button.px").innerText()));

  // A refused order: Kraken's string, the fields kept.
  await page.getByLabel("Price (USD)").fill(String(Math.floor(bestBid / 2)));
  await page.getByLabel("Volume (BTC)").fill("0.00000001");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByRole("alert").filter({ hasText: "Not placed: EOrder:Order minimum not met" }).waitFor();
  assert.equal(await page.getByLabel("Volume (BTC)").inputValue(), "0.00000001");
  // Post-only on a stop-loss: the API's own refusal.
  await page.getByLabel("Order type").selectOption("stop-loss");
  await page.getByLabel("Volume (BTC)").fill("0.001");
  await page.getByLabel("Post-only", { exact: false }).check();
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByRole("alert").filter({ hasText: "Not placed: EGeneral:Invalid arguments:oflags" }).waitFor();

  // A post-only limit buy far below the market rests; it is on the open orders page.
  await page.getByLabel("Order type").selectOption("limit");
  await page.getByLabel("Price (USD)").fill(String(Math.floor(bestBid / 2)));
  await page.getByLabel("Volume (BTC)").fill("0.001");
  await page.getByLabel("Post-only", { exact: false }).check();
  await page.getByRole("button", { name: "Place order" }).click();
  const done = page.getByRole("status").filter({ hasText: /Order O[A-Z0-9-]+ placed: buy 0\.00100000 XBTUSD @ limit/ });
  await done.waitFor();
  const txid = (await done.innerText()).match(/O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}/)[0];
  const seen = krakenex(server.url, server.demo.key, server.demo.secret, "QueryOrders", { txid });
  assert.equal(seen.result[txid].status, "open");
  assert.equal(seen.result[txid].oflags.includes("post"), true);
  await page.getByRole("link", { name: "Orders" }).click();
  await assert.doesNotReject(page.locator(`tr[data-txid="${txid}"]`).first().waitFor());
  assert.match(await page.locator(`tr[data-txid="${txid}"]`).first().innerText(), /XBTUSD\s+buy\s+limit/);

  // A market order from the ticket trades at once.
  await page.goto(`${server.url}/console/markets/XBTUSD`);
  await page.getByLabel("Sell BTC").check();
  await page.getByLabel("Order type").selectOption("market");
  await page.getByLabel("Volume (BTC)").fill("0.001");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByRole("status").filter({ hasText: /placed: sell 0\.00100000 XBTUSD @ market/ }).waitFor();

  // The ticket form without its CSRF token is refused and places nothing.
  const before = Object.keys(krakenex(server.url, server.demo.key, server.demo.secret, "OpenOrders").result.open).length;
  const forged = await page.request.post(server.url + "/console/markets/order", {
    form: { pair: "XBTUSD", type: "buy", ordertype: "limit", price: "1000", volume: "0.01" },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  const after = Object.keys(krakenex(server.url, server.demo.key, server.demo.secret, "OpenOrders").result.open).length;
  assert.equal(after, before);
  assert.deepEqual(errors.filter((e) => !e.startsWith("403")), [], "no script, CSP or loading error");
  await context.close();
});

test("phone width: the pair's page fits, with its chart, ladder and ticket", async () => {
  const { context, page, errors } = await watched({ viewport: { width: 390, height: 844 } });
  await logIn(page, server.url, "demo", "demo-password-1");
  await page.goto(server.url + "/console/markets/SOLUSD?interval=15");
  await page.waitForFunction(() => Number(document.getElementById("chart").dataset.candles) > 0, null, { timeout: 15000 });
  await page.waitForFunction(() => Number(document.getElementById("book-status").dataset.verified) >= 1, null, { timeout: 15000 });
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "no horizontal scrolling");
  await page.getByRole("button", { name: "Place order" }).waitFor();
  await page.goto(server.url + "/console/markets");
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "the board fits too");
  assert.deepEqual(errors, []);
  await context.close();
});

test("an unknown market is a 404 with Kraken's error; the checksums never mismatched", async () => {
  const { context, page } = await watched();
  const answer = await page.goto(server.url + "/console/markets/NOPEUSD");
  assert.equal(answer.status(), 404);
  await page.getByText("EQuery:Unknown asset pair").waitFor();
  await page.goto(server.url + "/console/markets/DOGEUSD?interval=1");
  await page.waitForFunction(() => Number(document.getElementById("book-status").dataset.verified) >= 3, null, { timeout: 30000 });
  assert.equal(await page.locator("#book-status").getAttribute("data-mismatches"), "0");
  await context.close();
});
