//! `loadgen public`: wrk against the public endpoints, on a server with `--limits off` whose
//! XBTUSD book was first given depth and trades by signed orders. GET Time is the baseline. A wrk
//! Lua script classifies every answer's body as OK, a Kraken error or not Kraken; wrk's own
//! non-2xx and socket-error counts are added to the last. Needs `wrk` on the PATH
//! (`scripts/load` installs it from Debian's packages).
//!
//! Client and server share the machine, so each row also says where the CPU went: the server's
//! and wrk's CPU time (user + system, from /proc) per answered request. A ratio to Time that
//! falls while the server's µs per request stays flat is the client's limit, not the server's.

use super::{arg, nonce, signed, write_markdown, Server};
use std::process::{Command, Stdio};

/// Counts answers by kind in every wrk thread and prints the totals when wrk is done.
const CLASSIFY_LUA: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; kraken = 0; other = 0 end
function response(status, headers, body)
  if status == 200 and string.sub(body, 1, 11) == '{"error":[]' then ok = ok + 1
  elseif status == 200 and string.match(body, '^{"error":%["[EW]%a+:') then kraken = kraken + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, k, x = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); k = k + t:get("kraken"); x = x + t:get("other") end
  io.write(string.format("ANSWERS ok=%d kraken=%d other=%d\n", o, k, x))
end
"#;

const ENDPOINTS: &[&str] = &[
    "Time",
    "SystemStatus",
    "AssetPairs?pair=XBTUSD",
    "Ticker?pair=XBTUSD",
    "Depth?pair=XBTUSD&count=100",
    "Trades?pair=XBTUSD",
    "OHLC?pair=XBTUSD&interval=1",
    // The baseline again, last: the VM drifts, so the two Time rows bound the drift of the run.
    "Time",
];

/// What one wrk run reported.
struct WrkRun {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
    kraken_errors: u64,
    not_kraken: u64,
    requests: u64,
}

/// wrk prints latencies as "1.23ms", "456.00us" or "1.01s".
fn millis(text: &str) -> f64 {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len()));
    let v: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => f64::NAN,
    }
}

/// CPU seconds (user + system) of process `pid` (`self` for this one's own) and, for `self`,
/// of its waited-for children (wrk), from /proc.
fn cpu_seconds(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th field overall.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    let tick = 100.0; // USER_HZ on Linux
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / tick;
    (at(11) + at(12), at(13) + at(14))
}

fn run_wrk(url: &str, script: &std::path::Path, connections: u64, seconds: u64) -> WrkRun {
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .stderr(Stdio::inherit())
        .output()
        .expect("run wrk (install it: apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "wrk failed:\n{text}");
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_string()));
    let count = |name: &str, line: &str| -> u64 {
        line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let answers = field("ANSWERS").unwrap_or_default();
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let socket_errors: u64 = field("Socket errors:")
        .map(|v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    WrkRun {
        rate: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        p50_ms: field("50%").map(|v| millis(&v)).unwrap_or(f64::NAN),
        p99_ms: field("99%").map(|v| millis(&v)).unwrap_or(f64::NAN),
        ok: count("ok", &answers),
        kraken_errors: count("kraken", &answers),
        not_kraken: count("other", &answers).max(non_2xx) + socket_errors,
        requests: text.lines().find_map(|l| l.trim().split_once(" requests in ").and_then(|(n, _)| n.parse().ok())).unwrap_or(0),
    }
}

pub fn public() {
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 16);
    let server = Server::start(&["--limits", "off"], &[], Stdio::inherit());
    let url = server.url.clone();

    // Depth and trades for the market-data endpoints: 200 resting orders a side, 100 trades.
    let (maker, taker) = (server.account_with_key("maker", "intermediate"), server.account_with_key("taker", "intermediate"));
    let agent = ureq::AgentBuilder::new().build();
    let mut last = 0;
    for i in 0..200u64 {
        let bid = format!("ordertype=limit&type=buy&volume=0.01&pair=XBTUSD&price={}", 87_000 - i);
        let ask = format!("ordertype=limit&type=sell&volume=0.01&pair=XBTUSD&price={}", 89_000 + i);
        for params in [bid, ask] {
            let r = signed(&agent, &url, &maker, "AddOrder", nonce(&mut last), &params);
            assert!(r.as_deref().is_ok_and(|b| b.starts_with("{\"error\":[]")), "seeding the book: {r:?}");
        }
    }
    let mut last_taker = 0;
    for i in 0..100u64 {
        let side = if i % 2 == 0 { "buy" } else { "sell" };
        let r = signed(
            &agent,
            &url,
            &taker,
            "AddOrder",
            nonce(&mut last_taker),
            &format!("ordertype=market&type={side}&volume=0.002&pair=XBTUSD"),
        );
        assert!(r.as_deref().is_ok_and(|b| b.starts_with("{\"error\":[]")), "seeding trades: {r:?}");
    }

    let script = std::env::temp_dir().join(format!("calamari-wrk-{}.lua", std::process::id()));
    std::fs::write(&script, CLASSIFY_LUA).expect("write the wrk script");
    println!("loadgen public: wrk -t2 -c{connections} -d{seconds}s per endpoint, server {url} (limits off)");
    let mut table = String::from(
        "| GET /0/public/… | requests/s | ratio to Time | p50 ms | p99 ms | server CPU µs/req | wrk CPU µs/req | Kraken errors | non-Kraken answers |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let server_pid = server.child.id().to_string();
    let mut baseline = 0.0;
    let mut problems = Vec::new();
    for endpoint in ENDPOINTS {
        let (server_before, wrk_before) = (cpu_seconds(&server_pid).0, cpu_seconds("self").1);
        let run = run_wrk(&format!("{url}/0/public/{endpoint}"), &script, connections, seconds);
        let (server_cpu, wrk_cpu) = (cpu_seconds(&server_pid).0 - server_before, cpu_seconds("self").1 - wrk_before);
        let per_request = |cpu: f64| cpu * 1e6 / run.requests.max(1) as f64;
        if baseline == 0.0 {
            baseline = run.rate;
        }
        table.push_str(&format!(
            "| {endpoint} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {} | {} |\n",
            run.rate,
            run.rate / baseline.max(1.0),
            run.p50_ms,
            run.p99_ms,
            per_request(server_cpu),
            per_request(wrk_cpu),
            run.kraken_errors,
            run.not_kraken
        ));
        if run.ok == 0 || run.kraken_errors > 0 || run.not_kraken > 0 {
            problems.push(format!("{endpoint}: {} OK, {} Kraken errors, {} non-Kraken", run.ok, run.kraken_errors, run.not_kraken));
        }
    }
    let _ = std::fs::remove_file(&script);
    print!("{table}");
    let audit = super::audit_problem(&server);
    write_markdown(&format!(
        "{table}\nAfter the load: {}.\n",
        if audit.is_none() { "the audit passes and the server counted 0 panics" } else { "**the audit or the panic check FAILED**" }
    ));
    drop(server);
    if let Some(a) = audit {
        problems.push(format!("after the load: {a}"));
    }
    if !problems.is_empty() {
        eprintln!("loadgen public: {}", problems.join("; "));
        std::process::exit(1);
    }
}
