// What the console's browser tests and the screenshot script share: the real `calamari` binary on
// 127.0.0.1:0 in a temporary data directory, Debian's Chromium through playwright-core, the
// operator CLI, and the pinned krakenex (scripts/client-venv) as the real Kraken client.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = process.env.CALAMARI_BIN || join(ROOT, "target", "release", "calamari");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Starts a server; resolves to { url, dir, demo: {key, secret}, stderr(), stop() }. */
export async function startServer(extraArgs = [], env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "calamari-console-"));
  // A quiet exchange (no simulated market) unless the test asks for one.
  const market = extraArgs.includes("--market") ? [] : ["--market", "off"];
  const child = spawn(BIN, ["--data-dir", dir, "serve", "--listen", "127.0.0.1:0", ...market, ...extraArgs], {
    env: { ...process.env, RUST_LOG: process.env.CONSOLE_RUST_LOG || "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start:\n" + out + err)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}:\n${out}${err}`)));
  });
  const demo = { key: out.match(/API key:\s+(\S+)/)?.[1], secret: out.match(/API secret:\s+(\S+)/)?.[1] };
  return {
    url,
    dir,
    demo,
    stdout: () => out,
    stderr: () => err,
    cli: (...args) => cli(dir, args),
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `calamari --data-dir DIR ARGS…` (stdin text with { input }); returns stdout. */
export function cli(dir, args, input) {
  let opts = { encoding: "utf8" };
  if (args.length && typeof args[args.length - 1] === "object") {
    opts = { ...opts, ...args.pop() };
  }
  return execFileSync(BIN, ["--data-dir", dir, ...args], opts);
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

let venv;
/** Runs a krakenex call from Python; resolves to the parsed answer ({error, result}). */
export function krakenex(url, key, secret, method, params = {}) {
  venv ??= execFileSync(join(ROOT, "scripts", "client-venv"), { encoding: "utf8" }).trim();
  const py = `
import json, sys, krakenex
k = krakenex.API(key=sys.argv[1], secret=sys.argv[2])
k.uri = sys.argv[3]
print(json.dumps(k.query_private(sys.argv[4], json.loads(sys.argv[5]))))
`;
  const out = execFileSync(join(venv, "bin", "python"), ["-c", py, key, secret, url, method, JSON.stringify(params)], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

/** Signs up in the browser; the page ends on the balances page. */
export async function signUp(page, url, name, password) {
  await page.goto(url + "/");
  await page.getByRole("link", { name: "Sign up" }).click();
  await page.getByLabel("Account name").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/console\/balances$/);
}

export async function logIn(page, url, name, password) {
  await page.goto(url + "/console/login");
  await page.getByLabel("Account name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/console\/balances$/);
}
