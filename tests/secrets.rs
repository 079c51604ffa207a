//! Secret hygiene: a server driven through every private method, failed authentications, second
//! factors, key settings, revocation, the operator interface, the web console (passwords,
//! sessions, a key made and revoked on its pages) and a restart, its first run logging
//! at the most verbose level (trace, text) and its second at info as JSON, both with the request
//! log's one line per request; with canary secrets: API secrets, a static 2FA password, a TOTP
//! secret, the admin token and the master key. Afterwards each canary is searched for in clear,
//! in hex (both cases) and in base64 (standard and URL-safe, at every byte alignment) in the
//! server's stdout and stderr, every HTTP answer it gave, every CLI output, and every byte of
//! every file in the data directory. The only places a secret may appear are the one answer that
//! showed it when it was created, and the two files that exist to hold one (`master.key`,
//! `admin.token`) for their own secret.

mod common;
use base64::Engine as _;
use common::console::{Browser, Page};
use common::{next_nonce, Key, Server, BIN};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Everything the server said to anyone, each with where it was said.
#[derive(Default)]
struct Transcript {
    said: Vec<(String, Vec<u8>)>,
}

impl Transcript {
    fn note(&mut self, place: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.said.push((place.into(), bytes.into()));
    }
}

/// A canary: a secret and the places it may legitimately appear.
struct Canary {
    name: String,
    bytes: Vec<u8>,
    allowed: Vec<String>,
}

/// Starts the server at a log level (`RUST_LOG`) with extra `serve` arguments.
fn spawn(dir: &Path, run: usize, rust_log: &str, extra: &[&str]) -> (Server, PathBuf, PathBuf) {
    let out = dir.parent().unwrap().join(format!("stdout-{run}.log"));
    let err = dir.parent().unwrap().join(format!("stderr-{run}.log"));
    let _ = std::fs::remove_file(dir.join("server.json"));
    let child = Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--limits", "off", "--market", "off"])
        .args(extra)
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("start calamari");
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("listening on")) {
            break line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (Server::attach(child, url, dir), out, err)
}

fn answer(t: &mut Transcript, place: &str, r: Result<ureq::Response, ureq::Error>) -> Value {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{place}: {e}"),
    };
    let mut head = format!("{} {}\n", resp.status(), resp.status_text());
    for h in resp.headers_names() {
        head.push_str(&format!("{h}: {}\n", resp.header(&h).unwrap_or("")));
    }
    // Bytes, not text: RetrieveExport answers a zip.
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    let mut said = format!("{head}\n").into_bytes();
    said.extend_from_slice(&body);
    t.note(place, said);
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

/// A signed private call (form body) whose whole answer goes into the transcript.
fn call(s: &Server, t: &mut Transcript, k: &Key, method: &str, params: &[(&str, &str)]) -> Value {
    let nonce = next_nonce().to_string();
    let mut body = serde_urlencoded::to_string(params).unwrap();
    body.push_str(if body.is_empty() { "" } else { "&" });
    body.push_str(&format!("nonce={nonce}"));
    signed(s, t, k, method, &nonce, &body, "application/x-www-form-urlencoded")
}

fn signed(s: &Server, t: &mut Transcript, k: &Key, method: &str, nonce: &str, body: &str, content_type: &str) -> Value {
    let path = format!("/0/private/{method}");
    let secret = base64::engine::general_purpose::STANDARD.decode(&k.secret).unwrap();
    let sign = calamari::auth::sign(&path, nonce, body.as_bytes(), &secret);
    let r = ureq::post(&format!("{}{path}", s.url))
        .set("API-Key", &k.key)
        .set("API-Sign", &sign)
        .set("Content-Type", content_type)
        .send_string(body);
    answer(t, &format!("answer to {method}"), r)
}

fn get(s: &Server, t: &mut Transcript, path: &str, admin: bool) -> Value {
    let mut req = ureq::get(&format!("{}{path}", s.url));
    if admin {
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        req = req.set("Authorization", &format!("Bearer {}", token.trim()));
    }
    answer(t, &format!("answer to GET {path}"), req.call())
}

fn cli(s: &Server, t: &mut Transcript, place: &str, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--data-dir").arg(&s.data_dir).args(args).output().expect("run cli");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    t.note(place, text.clone());
    text
}

fn json_line(text: &str) -> Value {
    serde_json::from_str(text.lines().find(|l| l.starts_with('{')).expect("json output")).unwrap()
}

/// Every way `secret` could be written: in clear, hex in both cases, Rust's debug list of bytes,
/// and base64 (standard and
/// URL-safe) at each of the three byte alignments (the stable middle of the encoding).
fn encodings(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("clear".to_string(), secret.to_vec())];
    out.push(("hex".into(), hex(secret).into_bytes()));
    out.push(("HEX".into(), hex(secret).to_uppercase().into_bytes()));
    // Rust's `{:?}` of a byte slice: "[12, 34, …]".
    let debug = format!("{secret:?}");
    out.push(("debug bytes".into(), debug.trim_start_matches('[').trim_end_matches(']').as_bytes().to_vec()));
    for (name, engine) in
        [("base64", &base64::engine::general_purpose::STANDARD), ("base64url", &base64::engine::general_purpose::URL_SAFE)]
    {
        for shift in 0..3usize {
            let mut shifted = vec![0u8; shift];
            shifted.extend_from_slice(secret);
            let enc = engine.encode(&shifted);
            // Characters touched by the leading zero bytes or by what follows the secret vary.
            let start = if shift == 0 { 0 } else { 4 };
            let stable = enc.len().saturating_sub(4).max(start);
            out.push((format!("{name}@{shift}"), enc.as_bytes()[start..stable].to_vec()));
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() >= 8 && hay.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn canary_secrets_appear_nowhere_but_where_they_are_shown_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mut t = Transcript::default();
    let mut canaries: Vec<Canary> = Vec::new();

    // The first run logs at trace as text, the second at info as JSON: both carry the request
    // log's lines (one per request, with the key's name), which are searched like the rest.
    let (mut s, out1, err1) = spawn(&dir, 1, "trace", &[]);
    // The demo key is shown once, on the first start's console.
    let first = std::fs::read_to_string(&out1).unwrap();
    let demo_secret = first.lines().find_map(|l| l.trim().strip_prefix("API secret:")).expect("demo secret").trim().to_string();
    let demo_key = first.lines().find_map(|l| l.trim().strip_prefix("API key:")).unwrap().trim().to_string();
    canaries.push(Canary { name: "demo API secret".into(), bytes: demo_secret.clone().into_bytes(), allowed: vec!["stdout-1".into()] });
    let demo = Key { key: demo_key, secret: demo_secret };

    // Keys of every kind, each secret shown once by `key create`.
    cli(&s, &mut t, "cli account create", &["account", "create", "alice"]);
    cli(&s, &mut t, "cli tier", &["account", "tier", "alice", "intermediate"]);
    cli(&s, &mut t, "cli deposit", &["deposit", "--account", "alice", "USD", "50000"]);
    cli(&s, &mut t, "cli deposit", &["deposit", "--account", "alice", "XBT", "3"]);
    let key_of = |t: &mut Transcript, canaries: &mut Vec<Canary>, name: &str, flags: &[&str]| -> (Key, Value) {
        let place = format!("cli key create {name}");
        let mut args = vec!["key", "create", "--account", "alice", "--name", name, "--permissions", "all", "--json"];
        args.extend_from_slice(flags);
        let v = json_line(&cli(&s, t, &place, &args));
        let k = Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() };
        let raw = base64::engine::general_purpose::STANDARD.decode(&k.secret).unwrap();
        canaries.push(Canary { name: format!("{name} API secret"), bytes: k.secret.clone().into_bytes(), allowed: vec![place.clone()] });
        canaries.push(Canary { name: format!("{name} API secret (raw bytes)"), bytes: raw, allowed: vec![place.clone()] });
        if let Some(totp) = v["totp_secret"].as_str() {
            canaries.push(Canary { name: format!("{name} TOTP secret"), bytes: totp.as_bytes().to_vec(), allowed: vec![place.clone()] });
            let raw = calamari::limits::second_factor::parse_base32(totp).unwrap();
            canaries.push(Canary { name: format!("{name} TOTP secret (raw)"), bytes: raw, allowed: vec![place] });
        }
        (k, v)
    };
    let password = "canary-otp-password-7Qk2vXr9Lm4s";
    let (trader, _) = key_of(&mut t, &mut canaries, "trader", &[]);
    let (with_password, _) = key_of(&mut t, &mut canaries, "password", &["--otp-password", password]);
    let (with_totp, v) = key_of(&mut t, &mut canaries, "totp", &["--otp-totp", "--nonce-window", "5", "--ip", "127.0.0.0/8"]);
    let (doomed, _) = key_of(&mut t, &mut canaries, "doomed", &[]);
    // The password travels in request bodies: it is the client's, the server must not repeat it.
    canaries.push(Canary { name: "static 2FA password".into(), bytes: password.as_bytes().to_vec(), allowed: vec![] });

    // Every private method, with successes and failures.
    for m in ["Balance", "BalanceEx", "TradeBalance", "TradeVolume", "OpenOrders", "ClosedOrders", "TradesHistory", "Ledgers"] {
        call(&s, &mut t, &trader, m, &[]);
        call(&s, &mut t, &demo, m, &[]);
    }
    let buy = call(
        &s,
        &mut t,
        &trader,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.01")],
    );
    let txid = buy["result"]["txid"][0].as_str().expect("order placed").to_string();
    call(
        &s,
        &mut t,
        &trader,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "999"), ("volume", "0.004")],
    );
    call(&s, &mut t, &trader, "QueryOrders", &[("txid", &txid)]);
    call(&s, &mut t, &trader, "QueryTrades", &[("txid", "TAAAAA-AAAAA-AAAAAA")]);
    call(&s, &mut t, &trader, "QueryLedgers", &[("id", "LAAAAA-AAAAA-AAAAAA")]);
    call(&s, &mut t, &trader, "CancelOrder", &[("txid", &txid)]);
    call(&s, &mut t, &trader, "CancelAll", &[]);
    call(
        &s,
        &mut t,
        &trader,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1"), ("volume", "99999")],
    );
    // Funding and exports: addresses, a deposit from the chain, the address book, withdrawals,
    // a cancel, an operator failure, an adjustment, a report built into the data directory.
    for (m, p) in [
        ("DepositMethods", vec![("asset", "XBT")]),
        ("DepositAddresses", vec![("asset", "XBT"), ("method", "Bitcoin"), ("new", "true")]),
        ("WithdrawMethods", vec![]),
        ("WithdrawAddresses", vec![]),
    ] {
        call(&s, &mut t, &trader, m, &p);
    }
    let addr = call(&s, &mut t, &trader, "DepositAddresses", &[("asset", "XBT"), ("method", "Bitcoin")]);
    let addr = addr["result"][0]["address"].as_str().expect("a deposit address").to_string();
    cli(&s, &mut t, "cli chain deposit", &["chain", "deposit", &addr, "0.5"]);
    cli(
        &s,
        &mut t,
        "cli address-book",
        &["address-book", "add", "alice", "cold", "--asset", "XBT", "bc1qcanarydest0000000000000000000000000000"],
    );
    cli(&s, &mut t, "cli adjust", &["adjust", "alice", "USD", "-1", "--reason", "canary run"]);
    call(&s, &mut t, &trader, "WithdrawInfo", &[("asset", "XBT"), ("key", "cold"), ("amount", "0.1")]);
    let w = call(&s, &mut t, &trader, "Withdraw", &[("asset", "XBT"), ("key", "cold"), ("amount", "0.1")]);
    let refid = w["result"]["refid"].as_str().expect("withdrawal").to_string();
    call(&s, &mut t, &trader, "WithdrawCancel", &[("asset", "XBT"), ("refid", &refid)]);
    let w = call(&s, &mut t, &trader, "Withdraw", &[("asset", "XBT"), ("key", "cold"), ("amount", "0.2")]);
    cli(&s, &mut t, "cli chain fail", &["chain", "fail", w["result"]["refid"].as_str().expect("withdrawal")]);
    call(&s, &mut t, &trader, "Withdraw", &[("asset", "XBT"), ("key", "nope"), ("amount", "0.1")]);
    call(&s, &mut t, &trader, "WithdrawStatus", &[]);
    call(&s, &mut t, &trader, "DepositStatus", &[]);
    let export = call(&s, &mut t, &trader, "AddExport", &[("report", "ledgers"), ("description", "canary")]);
    let export_id = export["result"]["id"].as_str().expect("export").to_string();
    for _ in 0..100 {
        let st = call(&s, &mut t, &trader, "ExportStatus", &[("report", "ledgers")]);
        if st["result"][0]["status"] == "Processed" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    call(&s, &mut t, &trader, "RetrieveExport", &[("id", &export_id)]);
    let nonce = next_nonce().to_string();
    let json_body = format!("{{\"nonce\":\"{nonce}\",\"asset\":\"ZUSD\"}}");
    signed(&s, &mut t, &trader, "TradeBalance", &nonce, &json_body, "application/json");
    // Failures: replayed nonce, a signature under the wrong secret, an unknown key, bad bodies.
    signed(&s, &mut t, &trader, "Balance", &nonce, &format!("nonce={nonce}"), "application/x-www-form-urlencoded");
    let forged = Key { key: trader.key.clone(), secret: with_password.secret.clone() };
    call(&s, &mut t, &forged, "Balance", &[]);
    let stranger = Key { key: "A".repeat(56), secret: trader.secret.clone() };
    call(&s, &mut t, &stranger, "Balance", &[]);
    signed(&s, &mut t, &trader, "Balance", "1", "{not json", "application/json");
    call(&s, &mut t, &trader, "NoSuchMethod", &[]);
    // Second factors: missing, wrong, right (the password is in these bodies).
    call(&s, &mut t, &with_password, "Balance", &[]);
    call(&s, &mut t, &with_password, "Balance", &[("otp", "wrong-password")]);
    ok(&call(&s, &mut t, &with_password, "Balance", &[("otp", password)]));
    call(&s, &mut t, &with_password, "AddOrder", &[("otp", password), ("pair", "XBTUSD"), ("type", "sell"), ("volume", "0.0001")]);
    let totp = calamari::limits::second_factor::parse_base32(v["totp_secret"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    ok(&call(&s, &mut t, &with_totp, "Balance", &[("otp", &calamari::limits::second_factor::totp_code(&totp, now))]));
    call(&s, &mut t, &with_totp, "Balance", &[("otp", "123456")]);
    // Operator interface and CLI.
    cli(&s, &mut t, "cli key list", &["key", "list"]);
    cli(&s, &mut t, "cli key set", &["key", "set", &with_password.key, "--otp-password", "canary-otp-password-7Qk2vXr9Lm4s"]);
    cli(&s, &mut t, "cli key set totp", &["key", "set", &with_totp.key, "--nonce-window", "10"]);
    cli(&s, &mut t, "cli limits", &["limits", &trader.key]);
    cli(&s, &mut t, "cli lockouts", &["lockouts"]);
    cli(&s, &mut t, "cli audit", &["audit"]);
    cli(&s, &mut t, "cli key revoke", &["key", "revoke", &doomed.key]);
    call(&s, &mut t, &doomed, "Balance", &[]);
    get(&s, &mut t, "/admin/keys", true);
    get(&s, &mut t, "/admin/audit", true);
    get(&s, &mut t, "/admin/limits?key=".to_string().as_str(), true);
    get(&s, &mut t, "/metrics", false);
    get(&s, &mut t, "/0/public/Ticker?pair=XBTUSD", false);
    get(&s, &mut t, "/0/public/Depth?pair=XBTUSD", false);
    console(&s, &mut t, &mut canaries);
    s.terminate();

    // A restart replays everything; the keys are loaded again from their sealed form.
    let (mut s, _out2, _err2) = spawn(&dir, 2, "info", &["--log-format", "json"]);
    ok(&call(&s, &mut t, &trader, "Balance", &[]));
    ok(&call(&s, &mut t, &with_password, "Balance", &[("otp", password)]));
    call(&s, &mut t, &trader, "Ledgers", &[]);
    cli(&s, &mut t, "cli key list (after restart)", &["key", "list"]);
    s.terminate();

    // The operator's own secrets: each only in its own file.
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap().trim().to_string();
    canaries.push(Canary { name: "admin token".into(), bytes: token.into_bytes(), allowed: vec!["file admin.token".into()] });
    let master = std::fs::read(dir.join("master.key")).unwrap();
    canaries.push(Canary { name: "master key".into(), bytes: master, allowed: vec!["file master.key".into()] });

    // Where to look: logs, answers, CLI outputs, every file of the data directory.
    let mut places: Vec<(String, Vec<u8>)> = t.said;
    for (i, path) in [out1, err1, dir.parent().unwrap().join("stdout-2.log"), dir.parent().unwrap().join("stderr-2.log")].iter().enumerate()
    {
        let name = ["stdout-1", "stderr-1", "stdout-2", "stderr-2"][i];
        places.push((name.to_string(), std::fs::read(path).unwrap()));
    }
    let files = files_under(&dir);
    for f in &files {
        places.push((format!("file {}", f.strip_prefix(&dir).unwrap().display()), std::fs::read(f).unwrap()));
    }
    let stderr_bytes: usize = places.iter().filter(|(p, _)| p.starts_with("stderr")).map(|(_, b)| b.len()).sum();
    // The request lines are among what is searched: text at trace, JSON at info.
    let log_of = |name: &str| String::from_utf8_lossy(&places.iter().find(|(p, _)| p == name).unwrap().1).to_string();
    let (trace, info) = (log_of("stderr-1"), log_of("stderr-2"));
    for needle in
        ["calamari::request: request", "key=\"trader\"", "key=\"password\"", "error=\"EAPI:Invalid signature\"", "method=\"/admin/keys\""]
    {
        assert!(trace.contains(needle), "the trace log has request lines with {needle}");
    }
    let json_requests =
        info.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v["target"] == "calamari::request").count();
    assert!(json_requests >= 4 && info.contains("\"key\":\"trader\""), "the info log has JSON request lines ({json_requests})");
    assert!(stderr_bytes > 2_000, "the trace-level log should have recorded the run ({stderr_bytes} bytes)");
    assert!(files.iter().any(|f| f.ends_with("calamari.db")), "the database is among the files searched");

    let mut leaks = Vec::new();
    let mut checked = 0usize;
    for c in &canaries {
        for (encoding, needle) in encodings(&c.bytes) {
            for (place, bytes) in &places {
                checked += 1;
                if c.allowed.iter().any(|a| a == place) {
                    continue;
                }
                if contains(bytes, &needle) {
                    leaks.push(format!("{} ({encoding}) found in {place}", c.name));
                }
            }
        }
    }
    // The allowed places really do hold their secret (so the search itself works).
    for c in canaries.iter().filter(|c| !c.allowed.is_empty() && !c.name.contains("raw")) {
        let shown = places.iter().any(|(p, b)| c.allowed.contains(p) && contains(b, &c.bytes));
        assert!(shown, "{} should be in {:?} (the search is broken)", c.name, c.allowed);
    }
    eprintln!(
        "secret hygiene: {} canaries × {} encodings searched in {} places ({} files, {} bytes of log): {} checks, {} leaks",
        canaries.len(),
        encodings(b"0123456789abcdef").len(),
        places.len(),
        files.len(),
        stderr_bytes,
        checked,
        leaks.len()
    );
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// The web console: a password given by the CLI (on standard input), a sign-up, log-ins, every
/// account page, a key generated on the keys page (its secret only in that one answer), an edit,
/// a cancel, a revoke, a log-out. The passwords and session ids are canaries too: a session id
/// may appear only in the answer that set it.
fn console(s: &Server, t: &mut Transcript, canaries: &mut Vec<Canary>) {
    let password = "canary-console-password-Hq3Xw9Zt";
    let signup_password = "canary-signup-password-Jm5Rv2Ks";
    canaries.push(Canary { name: "console password (CLI)".into(), bytes: password.as_bytes().to_vec(), allowed: vec![] });
    canaries.push(Canary { name: "sign-up password".into(), bytes: signup_password.as_bytes().to_vec(), allowed: vec![] });
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&s.data_dir)
        .args(["account", "password", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    t.note("cli account password", [out.stdout, out.stderr].concat());

    let mut b = Browser::new(&s.url);
    let see = |t: &mut Transcript, place: &str, p: Page| -> Page {
        t.note(place, p.whole());
        p
    };
    let p = b.get("/console/login");
    let csrf = see(t, "console login form", p).csrf();
    let p = b.post("/console/login", &[("csrf", &csrf), ("account", "alice"), ("password", password)]);
    let session = see(t, "console log-in answer", p).session_cookie().expect("a new session");
    canaries.push(Canary { name: "console session id".into(), bytes: session.into_bytes(), allowed: vec!["console log-in answer".into()] });
    for path in [
        "/console/balances",
        "/console/orders",
        "/console/trades",
        "/console/ledger?asset=all&type=all",
        "/console/funding",
        "/console/account",
    ] {
        let p = b.get(path);
        assert_eq!(see(t, &format!("console page {path}"), p).status, 200);
    }
    let csrf = see(t, "console keys page", b.get("/console/keys")).csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "console-bot"),
        ("perm", "funds_query"),
        ("perm", "trades_modify"),
        ("nonce_window", "3"),
        ("ip_allowlist", "127.0.0.1"),
        ("valid_until", "2099-01-01T00:00"),
        ("otp", "password"),
        ("otp_password", "canary-console-otp-Pw4Lq8Nc"),
    ];
    let made = see(t, "console key generated", b.post("/console/keys", &form));
    canaries.push(Canary { name: "console 2FA password".into(), bytes: b"canary-console-otp-Pw4Lq8Nc".to_vec(), allowed: vec![] });
    assert_eq!(made.header("cache-control"), Some("no-store"), "the page that shows a secret is never cached");
    let value_of = |id: &str| {
        let needle = format!("id=\"{id}\" readonly value=\"");
        let at = made.body.find(&needle).expect(id) + needle.len();
        made.body[at..].split('"').next().unwrap().to_string()
    };
    let secret = value_of("private-key");
    let raw = base64::engine::general_purpose::STANDARD.decode(&secret).unwrap();
    canaries.push(Canary {
        name: "console API secret".into(),
        bytes: secret.clone().into_bytes(),
        allowed: vec!["console key generated".into()],
    });
    canaries.push(Canary { name: "console API secret (raw bytes)".into(), bytes: raw, allowed: vec!["console key generated".into()] });
    let key = Key { key: value_of("api-key"), secret };
    ok(&call(
        s,
        t,
        &key,
        "AddOrder",
        &[
            ("otp", "canary-console-otp-Pw4Lq8Nc"),
            ("pair", "XBTUSD"),
            ("type", "buy"),
            ("ordertype", "limit"),
            ("price", "900"),
            ("volume", "0.01"),
        ],
    ));
    let keys = see(t, "console keys list", b.get("/console/keys"));
    let row = keys.body.split("data-key-name=\"console-bot\"").nth(1).expect("the console key's row");
    let id = row.split("/console/keys/edit?id=").nth(1).and_then(|r| r.split('"').next()).expect("the console key's id").to_string();
    let p = b.get(&format!("/console/keys/edit?id={id}"));
    let csrf = see(t, "console key edit page", p).csrf();
    let p = b.post("/console/keys/edit", &[("csrf", &csrf), ("id", &id), ("perm", "funds_query"), ("otp", "keep"), ("nonce_window", "4")]);
    see(t, "console key edit answer", p);
    let p = b.post("/console/orders/cancel", &[("csrf", &csrf), ("all", "1")]);
    see(t, "console cancel answer", p);
    see(t, "console orders after cancel", b.get("/console/orders"));
    see(t, "console revoke page", b.get(&format!("/console/keys/revoke?id={id}")));
    see(t, "console revoke answer", b.post("/console/keys/revoke", &[("csrf", &csrf), ("id", &id)]));
    see(t, "console log-out", b.post("/console/logout", &[("csrf", &csrf)]));
    // A sign-up: its session is set once, in the sign-up's answer.
    let mut c = Browser::new(&s.url);
    let form = see(t, "console sign-up form", c.get("/console/signup"));
    let p = c.post(
        "/console/signup",
        &[("csrf", &form.csrf()), ("account", "carol"), ("password", signup_password), ("password2", signup_password)],
    );
    let session = see(t, "console sign-up answer", p).session_cookie().expect("a session");
    canaries.push(Canary {
        name: "sign-up session id".into(),
        bytes: session.into_bytes(),
        allowed: vec!["console sign-up answer".into()],
    });
    see(t, "console page after sign-up", c.get("/console/balances"));
    see(t, "console failed log-in", Browser::new(&s.url).log_in("carol", "not-the-password"));
}

fn ok(v: &Value) -> &Value {
    assert_eq!(v["error"], serde_json::json!([]), "unexpected error: {v}");
    &v["result"]
}
