//! Health and metrics over HTTP against the real server: `/health`'s exact answer, the request
//! counter by endpoint and Kraken error (unknown methods collapse into "other", errors lose
//! client-chosen details), the latency
//! histograms, the engine queue and group-commit figures, and the panic path (HTTP 500 with
//! `EGeneral:Internal error`, the server serving on, `calamari_panics_total` counting).

mod common;
use common::{err, ok, sample, Server};

fn requests(endpoint: &str, kind: &str, error: &str) -> String {
    format!("calamari_http_requests_total{{endpoint=\"{endpoint}\",kind=\"{kind}\",error=\"{error}\"}}")
}

fn latency_count(endpoint: &str, kind: &str) -> String {
    format!("calamari_http_request_duration_seconds_count{{endpoint=\"{endpoint}\",kind=\"{kind}\"}}")
}

fn value(metrics: &str, name: &str) -> f64 {
    sample(metrics, name).unwrap_or_else(|| panic!("{name} not in /metrics:\n{metrics}"))
}

/// POSTs to the admin interface with the token: (HTTP status, body).
fn admin_post_raw(s: &Server, path: &str) -> (u16, String) {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    match ureq::post(&format!("{}{path}", s.url)).set("Authorization", &format!("Bearer {}", token.trim())).send_string("") {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("POST {path}: {e}"),
    }
}

#[test]
fn health_is_ok_through_engine_and_storage() {
    let s = Server::start();
    let r = ureq::get(&format!("{}/health", s.url)).call().expect("GET /health");
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.into_string().unwrap(), r#"{"status":"ok","checks":{"engine":"ok","storage":"ok"}}"#);
    // The panic route exists only with CALAMARI_TEST_PANIC=1.
    assert_eq!(admin_post_raw(&s, "/admin/test/panic").0, 404);
}

#[test]
fn requests_are_counted_by_endpoint_and_kraken_error() {
    let s = Server::start();
    let demo = s.demo.clone().unwrap();
    for _ in 0..3 {
        ok(&s.public("Time", ""));
    }
    // Invented method names all land on one label value.
    for name in ["NoSuchThing", "Zzz", "Time2", "time"] {
        assert_eq!(err(&s.public(name, "")), "EGeneral:Unknown method");
    }
    ok(&s.private(&demo, "Balance", &[]));
    ok(&s.private(&demo, "Balance", &[]));
    assert_eq!(err(&s.signed(&demo, "Balance", "1", "nonce=1")), "EAPI:Invalid nonce");
    assert_eq!(err(&s.private(&demo, "Bogus", &[])), "EGeneral:Unknown method");
    let sell_too_much = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "90000"), ("volume", "5")];
    assert_eq!(err(&s.private(&demo, "AddOrder", &sell_too_much)), "EOrder:Insufficient funds");
    let bad_price = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "abc"), ("volume", "0.01")];
    assert_eq!(err(&s.private(&demo, "AddOrder", &bad_price)), "EGeneral:Invalid arguments:price");
    // Refused by the body limit before any envelope: labelled with the HTTP status.
    let oversized = ureq::post(&format!("{}/0/private/Balance", s.url)).send_string(&"x".repeat(70_000));
    assert!(matches!(oversized, Err(ureq::Error::Status(413, _))), "{oversized:?}");
    let not_found = ureq::get(&format!("{}/no/such/path", s.url)).call();
    assert!(matches!(not_found, Err(ureq::Error::Status(404, _))), "{not_found:?}");

    let before = s.metrics();
    let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "50000"), ("volume", "0.01")];
    ok(&s.private(&demo, "AddOrder", &buy));
    let m = s.metrics();

    let expected = [
        (requests("Time", "public", ""), 3.0),
        (requests("other", "public", "EGeneral:Unknown method"), 4.0),
        (requests("Balance", "private", ""), 2.0),
        (requests("Balance", "private", "EAPI:Invalid nonce"), 1.0),
        (requests("Balance", "private", "HTTP 413"), 1.0),
        (requests("other", "private", "EGeneral:Unknown method"), 1.0),
        (requests("AddOrder", "private", "EOrder:Insufficient funds"), 1.0),
        (requests("AddOrder", "private", ""), 1.0),
        // The field is left out of the label (it can be a client's JSON key: unbounded).
        (requests("AddOrder", "private", "EGeneral:Invalid arguments"), 1.0),
    ];
    for (name, count) in &expected {
        assert_eq!(value(&m, name), *count, "{name}");
    }
    let lines: Vec<&str> = m.lines().filter(|l| l.starts_with("calamari_http_requests_total{")).collect();
    assert_eq!(lines.len(), expected.len(), "one series per endpoint and error, nothing else: {lines:#?}");
    for (endpoint, kind, n) in
        [("Time", "public", 3.0), ("other", "public", 4.0), ("Balance", "private", 4.0), ("AddOrder", "private", 3.0)]
    {
        assert_eq!(value(&m, &latency_count(endpoint, kind)), n, "{endpoint}");
        let inf = format!("calamari_http_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",kind=\"{kind}\",le=\"+Inf\"}}");
        assert_eq!(value(&m, &inf), n, "{inf}");
        for le in ["5e-05", "5"] {
            let bucket = format!("calamari_http_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",kind=\"{kind}\",le=\"{le}\"}}");
            assert!(sample(&m, &bucket).is_some(), "buckets from 50 µs to 5 s: {bucket}\n{m}");
        }
    }

    // The accepted order is one command in one more group commit; the refused one was not logged.
    assert_eq!(value(&m, "calamari_engine_queue_depth"), 0.0, "nothing left queued");
    assert_eq!(value(&m, "calamari_committed_commands_total") - value(&before, "calamari_committed_commands_total"), 1.0);
    assert_eq!(value(&m, "calamari_storage_commit_records_sum") - value(&before, "calamari_storage_commit_records_sum"), 1.0);
    assert_eq!(value(&m, "calamari_storage_commit_records_count") - value(&before, "calamari_storage_commit_records_count"), 1.0);
    assert!(value(&m, "calamari_storage_commit_records_count") > 0.0);
    assert_eq!(value(&m, "calamari_storage_commit_records_count"), value(&m, "calamari_storage_commits_total"));
    assert_eq!(value(&m, "calamari_storage_commit_duration_seconds_count"), value(&m, "calamari_storage_commits_total"));
    assert_eq!(value(&m, "calamari_storage_commit_records_sum"), value(&m, "calamari_committed_commands_total"));
    // The limiter's counters keep their names.
    assert_eq!(value(&m, "calamari_auth_failures_total"), 1.0, "the stale nonce");
    for name in [
        "calamari_rest_rate_limited_total",
        "calamari_trading_rate_limited_total",
        "calamari_open_orders_cap_total",
        "calamari_public_rate_limited_total",
        "calamari_lockouts_total",
        "calamari_locked_out_refused_total",
        "calamari_throttled_total",
        "calamari_lockouts_active",
        "calamari_tracked_addresses",
    ] {
        value(&m, name);
    }
    assert_eq!(value(&m, "calamari_panics_total"), 0.0);
}

#[test]
fn a_panicking_handler_answers_internal_error_and_is_counted() {
    let mut s = Server::start_with(&[], &[("CALAMARI_TEST_PANIC", "1")]);
    assert_eq!(s.panics(), 0);
    let (status, body) = admin_post_raw(&s, "/admin/test/panic");
    assert_eq!(status, 500);
    assert_eq!(body, r#"{"error":["EGeneral:Internal error"]}"#);
    s.expect_panics(1);
    // The server serves on, and the engine and storage threads are fine.
    ok(&s.public("Time", ""));
    ok(&s.private(&s.demo.clone().unwrap(), "Balance", &[]));
    assert_eq!(ureq::get(&format!("{}/health", s.url)).call().unwrap().status(), 200);
    assert_eq!(s.panics(), 1);
}

#[test]
fn error_labels_drop_client_chosen_and_time_details() {
    use calamari::error::KrakenError;
    assert_eq!(KrakenError::Throttled(1_800_000_001).metric_label(), "EService:Throttled");
    assert_eq!(KrakenError::invalid("any-json-key-a-client-sends").metric_label(), "EGeneral:Invalid arguments");
    assert_eq!(KrakenError::InsufficientFunds.metric_label(), KrakenError::InsufficientFunds.as_kraken());
}

#[test]
fn a_panic_on_the_engine_thread_is_counted_and_health_says_unavailable() {
    let mut s = Server::start_with(&[], &[("CALAMARI_TEST_PANIC", "1")]);
    let (status, body) = admin_post_raw(&s, "/admin/test/panic?thread=engine");
    assert_eq!((status, body.as_str()), (400, r#"{"error":"Err(Unavailable)"}"#));
    s.expect_panics(1);
    assert_eq!(s.panics(), 1);
    // The engine thread ends as it unwinds; the storage thread follows when its queue closes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let health = loop {
        let health = match ureq::get(&format!("{}/health", s.url)).call() {
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            other => panic!("expected 503, got {other:?}"),
        };
        if health.1.contains(r#""storage":"stopped""#) || std::time::Instant::now() > deadline {
            break health;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(health, (503, r#"{"status":"unavailable","checks":{"engine":"stopped","storage":"stopped"}}"#.to_string()));
    assert_eq!(err(&s.public("Depth", "pair=XBTUSD")), "EService:Unavailable");
    ok(&s.public("Time", ""));
}

#[test]
fn history_flushes_are_counted_and_the_lag_drains_on_a_read() {
    // No flush by time or size: the rows wait until a history read asks for them.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("lazy.toml");
    std::fs::write(&cfg, "[storage]\nhistory_flush_ms = 100000000\nhistory_flush_rows = 100000000\n").unwrap();
    let s = Server::start_with(&["--config", cfg.to_str().unwrap()], &[]);
    let demo = s.demo.clone().unwrap();
    ok(&s.private(&demo, "Ledgers", &[]));
    let before = s.metrics();
    assert_eq!(value(&before, "calamari_history_lag_batches"), 0.0, "a read leaves nothing unwritten");
    // One order placed and canceled: one closed order, no trade, no ledger entry.
    let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "50000"), ("volume", "0.01")];
    let txid = ok(&s.private(&demo, "AddOrder", &buy))["txid"][0].as_str().unwrap().to_string();
    ok(&s.private(&demo, "CancelOrder", &[("txid", &txid)]));
    let waiting = s.metrics();
    assert_eq!(value(&waiting, "calamari_history_lag_batches"), 1.0, "the cancel's batch (the order's had no row)");
    assert_eq!(value(&waiting, "calamari_history_flushes_total"), value(&before, "calamari_history_flushes_total"));
    ok(&s.private(&demo, "ClosedOrders", &[]));
    let after = s.metrics();
    assert_eq!(value(&after, "calamari_history_lag_batches"), 0.0);
    assert_eq!(value(&after, "calamari_history_flushes_total") - value(&before, "calamari_history_flushes_total"), 1.0);
    assert_eq!(value(&after, "calamari_history_rows_total") - value(&before, "calamari_history_rows_total"), 1.0, "the closed order");
    assert_eq!(value(&after, "calamari_history_flush_duration_seconds_count"), value(&after, "calamari_history_flushes_total"));
    assert!(value(&after, "calamari_history_flush_duration_seconds_sum") > 0.0);
    // Between these requests the storage thread waited for work, and counted it.
    assert!(value(&after, "calamari_storage_wait_seconds_total") > value(&before, "calamari_storage_wait_seconds_total"));
    // history.db's rows reach the order's record at once (its batch had no row), the cancel's
    // record only with the flush; the history thread counted its idle and busy time.
    let upto = |m: &str| value(m, "calamari_history_upto");
    assert_eq!((upto(&waiting) - upto(&before), upto(&after) - upto(&before)), (1.0, 2.0));
    assert!(value(&after, "calamari_history_wait_seconds_total") > value(&before, "calamari_history_wait_seconds_total"));
    assert!(value(&after, "calamari_history_busy_seconds_total") > value(&before, "calamari_history_busy_seconds_total"));
    // The operator's view says the same (`calamari log status`).
    let status: serde_json::Value = serde_json::from_str(s.cli(&["--json", "log", "status"]).trim()).unwrap();
    assert_eq!((status["history"]["upto"].as_f64(), status["last"].as_f64()), (Some(upto(&after)), Some(upto(&after))), "{status}");
    assert_eq!(status["history"]["lag_batches"], 0, "{status}");
    s.assert_no_panics();
}
