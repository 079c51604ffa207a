//! The request log through the real server: the line of a public call, of a signed call that
//! succeeds and of one refused with `EAPI:Invalid nonce` (the key's NAME, never the key), of an
//! admin call (never the token), the client address behind a trusted proxy, the same lines as
//! JSON (`--log-format json`, each parsed with serde_json), and a flood of invalid requests that
//! gives a bounded number of lines plus summaries that account for every request withheld.

mod common;
use common::{Key, Server};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The fields of one text line of `calamari::request` with this message, by name, plus its
/// `time` and `level`.
type Fields = BTreeMap<String, String>;

fn text_lines(log: &str, message: &str) -> Vec<Fields> {
    let mut out = Vec::new();
    for line in log.lines() {
        let mut words = line.split_whitespace();
        let (Some(time), Some(level)) = (words.next(), words.next()) else { continue };
        let Some((_, rest)) = line.split_once(" calamari::request: ") else { continue };
        let Some(rest) = rest.strip_prefix(message).and_then(|r| r.strip_prefix(' ')) else { continue };
        // The message ends where the fields begin ("request" is also how the summary's starts).
        if !rest.split(' ').next().is_some_and(|w| w.contains('=')) {
            continue;
        }
        let mut f = parse_fields(rest);
        f.insert("time".into(), time.into());
        f.insert("level".into(), level.into());
        out.push(f);
    }
    out
}

/// `a=1 b="x y" c="q\"d"` → {a: 1, b: x y, c: q"d}.
fn parse_fields(mut rest: &str) -> Fields {
    let mut f = Fields::new();
    while let Some((name, after)) = rest.split_once('=') {
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        f.insert(name.trim().to_string(), value);
        rest = next.trim_start();
    }
    f
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A server started with a config file (read at start, then deleted).
fn start(config: &str, args: &[&str], rust_log: &str) -> (Server, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let mut all = vec!["--config", path.to_str().unwrap()];
    all.extend_from_slice(args);
    Server::start_logging(&all, &[], rust_log)
}

fn ok(v: &Value) {
    assert_eq!(v["error"], serde_json::json!([]), "{v}");
}

/// The line whose fields match every (name, value) given ("-": the field is absent); exactly one.
fn the_line<'a>(lines: &'a [Fields], want: &[(&str, &str)]) -> &'a Fields {
    let matches = |f: &Fields, k: &str, v: &str| f.get(k).map(String::as_str) == if v == "-" { None } else { Some(v) };
    let found: Vec<&Fields> = lines.iter().filter(|f| want.iter().all(|(k, v)| matches(f, k, v))).collect();
    assert_eq!(found.len(), 1, "one line with {want:?} among {lines:#?}");
    found[0]
}

#[test]
fn text_lines_name_the_client_method_key_status_error_and_latency() {
    let (mut s, log) = start("[limits]\ntrusted_proxies = [\"127.0.0.0/8\"]\n", &[], "info");
    s.cli(&["account", "create", "alice"]);
    s.cli(&["deposit", "--account", "alice", "USD", "100"]);
    let bot: Key = s.key("alice", "bot", "Query Funds");
    ok(&s.public("Time", ""));
    let proxied = ureq::get(&format!("{}/0/public/Ticker?pair=XBTUSD", s.url)).set("X-Forwarded-For", "203.0.113.9").call().unwrap();
    ok(&proxied.into_json().unwrap());
    ok(&s.private(&bot, "Balance", &[]));
    let stale = s.signed(&bot, "Balance", "1", "nonce=1");
    assert_eq!(stale["error"][0], "EAPI:Invalid nonce");
    let stranger = Key { key: "A".repeat(56), secret: bot.secret.clone() };
    assert_eq!(s.private(&stranger, "Balance", &[])["error"][0], "EAPI:Invalid key");
    s.cli(&["key", "list"]);
    ureq::get(&format!("{}/health", s.url)).call().unwrap();
    s.terminate();

    let text = read(&log);
    let lines = text_lines(&text, "request");
    let time = the_line(&lines, &[("method", "Time"), ("key", "-"), ("error", "-")]);
    assert_eq!((time["kind"].as_str(), time["status"].as_str(), time["client"].as_str()), ("public", "200", "127.0.0.1"));
    assert_eq!(time["level"], "INFO");
    let today = &time["time"][..10];
    assert!(today.starts_with("20") && time["time"].ends_with('Z'), "RFC 3339 UTC time: {time:?}");
    assert!(time["latency_us"].parse::<u64>().unwrap() < 5_000_000);
    the_line(&lines, &[("method", "Ticker"), ("client", "203.0.113.9"), ("status", "200")]);

    let success = the_line(&lines, &[("method", "Balance"), ("key", "bot"), ("status", "200"), ("error", "-")]);
    assert_eq!((success["kind"].as_str(), success["client"].as_str()), ("private", "127.0.0.1"));
    success["latency_us"].parse::<u64>().expect("latency in µs");
    the_line(&lines, &[("method", "Balance"), ("key", "bot"), ("error", "EAPI:Invalid nonce"), ("status", "200")]);
    // An unknown key has no name.
    the_line(&lines, &[("method", "Balance"), ("error", "EAPI:Invalid key"), ("key", "-")]);

    // Admin calls: the route, never the token; /health is at debug, so not here.
    let admin: Vec<&Fields> = lines.iter().filter(|f| f["kind"] == "admin").collect();
    assert!(admin.iter().any(|f| f["method"] == "/admin/keys" && f["status"] == "200"), "{admin:#?}");
    assert!(admin.iter().any(|f| f["method"] == "/admin/accounts"), "{admin:#?}");
    assert!(admin.iter().all(|f| !f.contains_key("key")));
    assert!(!lines.iter().any(|f| f["method"] == "/health" || f["method"] == "/metrics"), "operator lines are debug");
    let token = read(&s.data_dir.join("admin.token"));
    for needle in [token.trim(), bot.key.as_str(), bot.secret.as_str()] {
        assert!(!text.contains(needle), "the log holds a secret or a public key");
    }
    let api = lines.iter().filter(|f| f["kind"] != "admin").count();
    assert_eq!(api, 5, "one line per API request: {lines:#?}");
}

#[test]
fn json_lines_parse_with_their_fields_at_the_top() {
    let (mut s, log) = Server::start_logging(&["--log-format", "json"], &[], "info,calamari::request=debug");
    let demo = s.demo.clone().unwrap();
    ok(&s.private(&demo, "Balance", &[]));
    assert_eq!(s.signed(&demo, "Balance", "1", "nonce=1")["error"][0], "EAPI:Invalid nonce");
    ok(&s.public("Time", ""));
    ureq::get(&format!("{}/health", s.url)).call().unwrap();
    s.terminate();

    let text = read(&log);
    let all: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(all.iter().any(|v| v["message"] == "Calamari is listening"), "every line is JSON, not only requests");
    let lines: Vec<&Value> = all.iter().filter(|v| v["target"] == "calamari::request" && v["message"] == "request").collect();
    let find = |method: &str, error: Option<&str>| -> &Value {
        let found: Vec<&&Value> = lines.iter().filter(|v| v["method"] == method && v["error"].as_str() == error).collect();
        assert_eq!(found.len(), 1, "{method} {error:?} in {lines:#?}");
        found[0]
    };
    let success = find("Balance", None);
    assert_eq!(success["level"], "INFO");
    assert_eq!(
        (success["key"].as_str(), success["kind"].as_str(), success["client"].as_str()),
        (Some("demo"), Some("private"), Some("127.0.0.1"))
    );
    assert_eq!(success["status"].as_u64(), Some(200));
    assert!(success["latency_us"].is_u64());
    assert!(success["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let stale = find("Balance", Some("EAPI:Invalid nonce"));
    assert_eq!(stale["key"], "demo");
    assert!(find("Time", None).get("key").is_none());
    let health = find("/health", None);
    assert_eq!((health["level"].as_str(), health["kind"].as_str()), (Some("DEBUG"), Some("operator")));
}

#[test]
fn a_flood_gives_a_bounded_number_of_lines_and_summaries_that_count_the_rest() {
    let config = "[log]\nrequest_lines_per_second = 5\nsummary_seconds = 1\n";
    let (mut s, log) = start(config, &["--limits", "off"], "info");
    let agent = ureq::AgentBuilder::new().build();
    let stranger = Key { key: "B".repeat(56), secret: s.demo.clone().unwrap().secret };
    let started = Instant::now();
    // Two bursts with a quiet gap: the first burst's summary is written by the server's ticker
    // (summary_seconds = 1), the second's at shutdown.
    let n = 1000;
    for i in 0..n {
        if i == n / 2 {
            std::thread::sleep(std::time::Duration::from_millis(2500));
        }
        let form = common::sign_form(&stranger, "Balance", &[]);
        let r: Value = agent
            .post(&format!("{}{}", s.url, form.path))
            .set("API-Key", &stranger.key)
            .set("API-Sign", &form.sign)
            .send_string(&form.body)
            .unwrap()
            .into_json()
            .unwrap();
        assert_eq!(r["error"][0], "EAPI:Invalid key", "request {i}");
    }
    let seconds = started.elapsed().as_secs_f64();
    s.terminate(); // the shutdown writes the summary still pending
    let text = read(&log);
    let lines: Vec<Fields> = text_lines(&text, "request").into_iter().filter(|f| f["method"] == "Balance").collect();
    let summaries = text_lines(&text, "request lines suppressed");
    let windows = seconds.ceil() as usize + 1;
    let shutdown = text.find("shutdown signal").expect("the shutdown line");
    let first_summary = text.find("request lines suppressed").expect("a summary");
    assert!(first_summary < shutdown, "the ticker wrote the first burst's summary while the server ran");
    assert!(lines.len() >= 5 && lines.len() <= 5 * windows, "{} lines in {seconds:.2} s", lines.len());
    assert!(summaries.len() >= 2 && summaries.len() <= windows + 1, "{summaries:#?}");
    let mut withheld = 0u64;
    for sm in &summaries {
        let suppressed: u64 = sm["suppressed"].parse().unwrap();
        let counted: u64 = sm["counts"].split("; ").map(|c| c.rsplit_once('=').unwrap().1.parse::<u64>().unwrap()).sum();
        assert_eq!(suppressed, counted, "{sm:?}");
        assert!(sm["counts"].starts_with("Balance EAPI:Invalid key="), "{sm:?}");
        withheld += suppressed;
    }
    assert_eq!(lines.len() as u64 + withheld, n, "every request is a line or is counted in a summary");
    eprintln!("flood: {n} requests in {seconds:.2} s → {} lines and {} summaries", lines.len(), summaries.len());
}
