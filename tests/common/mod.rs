//! Test harness: runs the real `calamari` binary on 127.0.0.1:0 with a temporary data
//! directory, and talks to it over HTTP with Kraken-signed requests. No mocks.
#![allow(dead_code)]

pub mod console;
pub mod ws;
pub mod xbt_orders;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_calamari");

pub struct Server {
    pub child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// The demo key printed on first start (empty after a restart).
    pub demo: Option<Key>,
    /// Panics this test provokes on purpose; `calamari_panics_total` must equal it at the end.
    expected_panics: u64,
}

#[derive(Clone, Debug)]
pub struct Key {
    pub key: String,
    pub secret: String,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[], &[])
    }

    /// Starts a server in a fresh directory with extra `serve` arguments and environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Server::start_in_with(&dir, args, env);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing data directory and waits until it listens.
    pub fn start_in(dir: &Path) -> Server {
        Server::start_in_with(dir, &[], &[])
    }

    pub fn start_in_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn_in(dir, args, env, "warn", Stdio::inherit())
    }

    /// Starts a server in a fresh directory (`<tmp>/data`) at the log level `rust_log`, its
    /// stderr written to the file returned (`<tmp>/stderr.log`), for tests that read its log.
    pub fn start_logging(args: &[&str], env: &[(&str, &str)], rust_log: &str) -> (Server, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let log = tmp.path().join("stderr.log");
        let stderr = Stdio::from(std::fs::File::create(&log).unwrap());
        let mut s = Server::spawn_in(&dir, args, env, rust_log, stderr);
        s._tmp = Some(tmp);
        (s, log)
    }

    fn spawn_in(dir: &Path, args: &[&str], env: &[(&str, &str)], rust_log: &str, stderr: Stdio) -> Server {
        let _ = std::fs::remove_file(dir.join("server.json"));
        let mut child = Command::new(BIN)
            .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            // A quiet exchange unless the test asks for the simulated market.
            .args(if args.contains(&"--market") { &[][..] } else { &["--market", "off"][..] })
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start calamari");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut key, mut secret) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        let url;
        loop {
            assert!(Instant::now() < deadline, "server did not start");
            let line = lines.next().expect("server output").expect("utf8");
            if let Some(k) = line.trim().strip_prefix("API key:") {
                key = Some(k.trim().to_string());
            }
            if let Some(s) = line.trim().strip_prefix("API secret:") {
                secret = Some(s.trim().to_string());
            }
            if line.contains("listening on") {
                url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let demo = match (key, secret) {
            (Some(key), Some(secret)) => Some(Key { key, secret }),
            _ => None,
        };
        Server { child: Some(child), url, data_dir: dir.to_path_buf(), _tmp: None, demo, expected_panics: 0 }
    }

    /// A second handle on a running server, for client threads (it owns no process).
    pub fn client(&self) -> Server {
        Server { child: None, url: self.url.clone(), data_dir: self.data_dir.clone(), _tmp: None, demo: None, expected_panics: 0 }
    }

    /// Takes ownership of the temporary directory so it outlives this server process.
    pub fn _tmp_take(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }

    /// Runs a CLI subcommand against this server's data directory; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(BIN).arg("--data-dir").arg(&self.data_dir).args(args).output().expect("run cli");
        assert!(out.status.success(), "calamari {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates a funded, verified (intermediate) account with a key of the given permissions.
    pub fn account(&self, name: &str, usd: &str, xbt: &str, permissions: &str) -> Key {
        self.cli(&["account", "create", name]);
        self.cli(&["account", "tier", name, "intermediate"]);
        if usd != "0" {
            self.cli(&["deposit", "--account", name, "USD", usd]);
        }
        if xbt != "0" {
            self.cli(&["deposit", "--account", name, "XBT", xbt]);
        }
        self.key(name, "test", permissions)
    }

    pub fn key(&self, account: &str, name: &str, permissions: &str) -> Key {
        let out = self.cli(&["key", "create", "--account", account, "--name", name, "--permissions", permissions, "--json"]);
        let v: Value = serde_json::from_str(out.trim()).expect("key json");
        Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() }
    }

    /// The server's `/metrics` text.
    pub fn metrics(&self) -> String {
        ureq::get(&format!("{}/metrics", self.url)).call().expect("GET /metrics").into_string().unwrap()
    }

    /// One sample of `/metrics`: `name` with its labels exactly as exposed (e.g.
    /// `calamari_http_requests_total{endpoint="Time",kind="public",error=""}`); `None` if absent.
    pub fn metric(&self, name: &str) -> Option<f64> {
        sample(&self.metrics(), name)
    }

    /// `calamari_panics_total` of the running server.
    pub fn panics(&self) -> u64 {
        self.metric("calamari_panics_total").expect("calamari_panics_total in /metrics") as u64
    }

    /// Tells the zero-panic check that this test provokes `n` panics on purpose.
    pub fn expect_panics(&mut self, n: u64) {
        self.expected_panics = n;
    }

    /// Asserts that the server counted no panic (beyond those expected). Called on drop and before
    /// a graceful stop; a test that kills the server on purpose calls it before the kill.
    pub fn assert_no_panics(&self) {
        let panics = self.panics();
        assert_eq!(
            panics, self.expected_panics,
            "calamari_panics_total is {panics}, expected {} (see the server's stderr)",
            self.expected_panics
        );
    }

    /// Whether this handle owns a server process that is still running.
    fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn terminate(&mut self) {
        if self.running() && !std::thread::panicking() {
            self.assert_no_panics();
        }
        if let Some(mut c) = self.child.take() {
            unsafe_sigterm(c.id());
            let _ = c.wait();
        }
    }

    pub fn public(&self, method: &str, query: &str) -> Value {
        let url = format!("{}/0/public/{method}?{query}", self.url);
        let resp = ureq::get(&url).call().expect("http 200");
        resp.into_json().unwrap()
    }

    pub fn private(&self, k: &Key, method: &str, params: &[(&str, &str)]) -> Value {
        let nonce = next_nonce().to_string();
        let mut body = serde_urlencoded::to_string(params).unwrap();
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(&format!("nonce={nonce}"));
        self.signed(k, method, &nonce, &body)
    }

    pub fn signed(&self, k: &Key, method: &str, nonce: &str, body: &str) -> Value {
        self.signed_with(k, method, nonce, body, &[])
    }

    /// A signed call with extra headers (e.g. `X-Forwarded-For`).
    pub fn signed_with(&self, k: &Key, method: &str, nonce: &str, body: &str, headers: &[(&str, &str)]) -> Value {
        use base64::Engine as _;
        let path = format!("/0/private/{method}");
        let secret = base64::engine::general_purpose::STANDARD.decode(&k.secret).unwrap();
        let sign = calamari::auth::sign(&path, nonce, body.as_bytes(), &secret);
        let mut req = ureq::post(&format!("{}{path}", self.url))
            .set("API-Key", &k.key)
            .set("API-Sign", &sign)
            .set("Content-Type", "application/x-www-form-urlencoded");
        for (h, v) in headers {
            req = req.set(h, v);
        }
        req.send_string(body).expect("http 200").into_json().unwrap()
    }

    /// A private call with a fresh nonce and extra body fields and headers.
    pub fn private_with(&self, k: &Key, method: &str, params: &[(&str, &str)], headers: &[(&str, &str)]) -> Value {
        let nonce = next_nonce().to_string();
        let mut body = serde_urlencoded::to_string(params).unwrap();
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(&format!("nonce={nonce}"));
        self.signed_with(k, method, &nonce, &body, headers)
    }

    pub fn public_with(&self, method: &str, headers: &[(&str, &str)]) -> Value {
        let mut req = ureq::get(&format!("{}/0/public/{method}", self.url));
        for (h, v) in headers {
            req = req.set(h, v);
        }
        req.call().expect("http 200").into_json().unwrap()
    }

    /// POSTs JSON to the admin interface with the data directory's token.
    pub fn admin_post(&self, path: &str, body: Value) -> Result<Value, String> {
        let token = std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap();
        match ureq::post(&format!("{}{path}", self.url)).set("Authorization", &format!("Bearer {}", token.trim())).send_json(body) {
            Ok(r) => Ok(r.into_json().unwrap()),
            Err(ureq::Error::Status(_, r)) => Err(r.into_string().unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Runs a CLI subcommand that may fail: (success, stdout + stderr).
    pub fn try_cli(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(BIN).arg("--data-dir").arg(&self.data_dir).args(args).output().expect("run cli");
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Server {
    /// Every suite's zero-panic check: a server still running at the end of a test that did not
    /// fail otherwise must have counted no panic. Read first, then stop, then assert.
    fn drop(&mut self) {
        let panics = if self.running() && !std::thread::panicking() { Some(self.panics()) } else { None };
        self.kill9();
        if let Some(panics) = panics {
            assert_eq!(
                panics, self.expected_panics,
                "calamari_panics_total is {panics}, expected {} (see the server's stderr)",
                self.expected_panics
            );
        }
    }
}

/// The value of the sample `name` (with its labels, as exposed) in Prometheus text.
pub fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().filter(|l| !l.starts_with('#')).find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}

static LAST_NONCE: AtomicU64 = AtomicU64::new(0);

/// Strictly increasing across the whole test process (microseconds since the epoch).
pub fn next_nonce() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
    let mut prev = LAST_NONCE.load(Ordering::SeqCst);
    loop {
        let n = now.max(prev + 1);
        match LAST_NONCE.compare_exchange(prev, n, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return n,
            Err(p) => prev = p,
        }
    }
}

pub fn ok(v: &Value) -> &Value {
    assert_eq!(v["error"], serde_json::json!([]), "unexpected error: {v}");
    &v["result"]
}

pub fn err(v: &Value) -> String {
    v["error"][0].as_str().unwrap_or_else(|| panic!("expected an error: {v}")).to_string()
}

impl Server {
    /// Adopts a server process the test started itself (e.g. with its output sent to files),
    /// listening at `url` on the data directory `dir`.
    pub fn attach(child: Child, url: String, dir: &Path) -> Server {
        Server { child: Some(child), url, data_dir: dir.to_path_buf(), _tmp: None, demo: None, expected_panics: 0 }
    }
}

/// A private call's form body with a fresh nonce, and its signature.
pub struct SignedForm {
    pub path: String,
    pub nonce: String,
    pub body: String,
    pub sign: String,
}

pub fn sign_form(k: &Key, method: &str, params: &[(&str, &str)]) -> SignedForm {
    use base64::Engine as _;
    let nonce = next_nonce().to_string();
    let mut body = serde_urlencoded::to_string(params).unwrap();
    if !body.is_empty() {
        body.push('&');
    }
    body.push_str(&format!("nonce={nonce}"));
    let path = format!("/0/private/{method}");
    let secret = base64::engine::general_purpose::STANDARD.decode(&k.secret).unwrap();
    let sign = calamari::auth::sign(&path, &nonce, body.as_bytes(), &secret);
    SignedForm { path, nonce, body, sign }
}

/// A signed call that reports transport failures instead of panicking (for servers that may be
/// killed or shut down mid-call): `Err` when no complete HTTP answer came back.
pub fn try_private(url: &str, k: &Key, method: &str, params: &[(&str, &str)]) -> Result<Value, String> {
    let f = sign_form(k, method, params);
    let resp = ureq::post(&format!("{url}{}", f.path))
        .timeout(Duration::from_secs(30))
        .set("API-Key", &k.key)
        .set("API-Sign", &f.sign)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&f.body)
        .map_err(|e| e.to_string())?;
    resp.into_json().map_err(|e| e.to_string())
}
