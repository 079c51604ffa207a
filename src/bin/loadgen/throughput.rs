//! `loadgen [throughput]`: closed-loop signed load, one phase after another, each for
//! `--seconds` with `--clients` threads on keep-alive connections (`conn`: each request in one
//! write, as real clients send it), one funded account and key per client, on a server with
//! `--limits off` (16 clients from one address would be refused by Kraken's counters within
//! seconds: this mode measures the request path, not the limits):
//!   1. `GET /0/public/Time`: the baseline (HTTP and the envelope, nothing else);
//!   2. signed `Balance`: authentication and a read of the durable balances;
//!   3. signed, durable `AddOrder`: limit orders alternating buy/sell over 60 ticks around the mid,
//!      about a third crossing: authentication, validation, matching, a group-committed fsync;
//!   4. signed `AddOrder` of a resting order far from the mid, then `CancelOrder` of it, in turn:
//!      both durable; their latencies are reported apart.
//!
//! Each row: requests/s, its ratio to the baseline, p50/p99, Kraken errors and non-Kraken answers,
//! and the CPU the phase took: the server's and the load generator's own (user + system, from
//! /proc), in cores, and the generator's share of what both used (its signing, HTTP client and
//! bookkeeping compete with the server for the same cores).
//!
//! Then the open-loop pass (`--half-peak`, on by default; `--half-peak 0` skips it): signed
//! Balance and durable AddOrder again, each at half the rate its closed-loop row measured, sent
//! on a fixed schedule (client `i` of `n` sends its `k`-th request at `i/R + k*n/R`), latency
//! counted from when each request was due, so a stall delays and counts the requests behind it
//! (no coordinated omission). `--phases time,balance,addorder,cancel` runs a subset (profiling).

use super::conn::Conn;
use super::{arg, classify, nonce, percentile, write_markdown, Answer, Key, Server};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one client remembers between its requests.
#[derive(Default)]
pub(super) struct ClientState {
    last_nonce: u64,
    /// A resting order waiting to be canceled (phase 4).
    resting: Option<String>,
}

/// One request of a phase: the row it belongs to and the server's answer.
pub(super) type Request = fn(&mut Conn, &Key, &mut ClientState, u64) -> (&'static str, Result<String, String>);

/// The figures of one row.
#[derive(Default)]
pub(super) struct Row {
    pub(super) latencies_us: Vec<u64>,
    pub(super) kraken_errors: u64,
    pub(super) not_kraken: u64,
    pub(super) first_problem: Option<String>,
}

/// One phase: `clients` threads for `seconds`, closed loop (`rate` None: each sends its next
/// request when the last is answered) or open loop at `rate` requests/s in all (latency from each
/// request's due time).
pub(super) fn run_phase(
    url: &str,
    clients: usize,
    seconds: u64,
    keys: &[Arc<Key>],
    request: Request,
    rate: Option<f64>,
) -> BTreeMap<&'static str, Row> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let url = url.to_string();
            let key = keys[i].clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::new(&url);
                let mut state = ClientState::default();
                let mut rows: BTreeMap<&'static str, Row> = BTreeMap::new();
                // Open loop: this client's k-th request is due at start + (i + k*clients)/rate.
                let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
                let mut due = start + rate.map_or(Duration::ZERO, |r| Duration::from_secs_f64(i as f64 / r));
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t0 = match interval {
                        Some(step) => {
                            let now = Instant::now();
                            if due > now {
                                std::thread::sleep(due - now);
                            }
                            let t = due;
                            due += step;
                            if t >= deadline {
                                break;
                            }
                            t
                        }
                        None => Instant::now(),
                    };
                    let (label, answer) = request(&mut conn, &key, &mut state, n);
                    let row = rows.entry(label).or_default();
                    row.latencies_us.push(t0.elapsed().as_micros() as u64);
                    match classify(&answer) {
                        Answer::Ok => {}
                        Answer::KrakenError => row.kraken_errors += 1,
                        Answer::NotKraken => row.not_kraken += 1,
                    }
                    if classify(&answer) != Answer::Ok {
                        row.first_problem.get_or_insert_with(|| format!("{answer:?}"));
                    }
                }
                rows
            })
        })
        .collect();
    let mut out: BTreeMap<&'static str, Row> = BTreeMap::new();
    for h in handles {
        for (label, row) in h.join().expect("client thread") {
            let total = out.entry(label).or_default();
            total.latencies_us.extend(row.latencies_us);
            total.kraken_errors += row.kraken_errors;
            total.not_kraken += row.not_kraken;
            total.first_problem = total.first_problem.take().or(row.first_problem);
        }
    }
    for row in out.values_mut() {
        row.latencies_us.sort_unstable();
    }
    out
}

fn time_request(conn: &mut Conn, _: &Key, _: &mut ClientState, _: u64) -> (&'static str, Result<String, String>) {
    ("GET /0/public/Time", conn.get("/0/public/Time"))
}

fn balance_request(conn: &mut Conn, key: &Key, st: &mut ClientState, _: u64) -> (&'static str, Result<String, String>) {
    ("signed Balance", conn.signed(key, "Balance", nonce(&mut st.last_nonce), ""))
}

pub(super) fn add_order_request(conn: &mut Conn, key: &Key, st: &mut ClientState, n: u64) -> (&'static str, Result<String, String>) {
    // Buys and sells alternate over 60 ticks around 88,000.0; about a third cross and trade.
    let side = if n.is_multiple_of(2) { "buy" } else { "sell" };
    let offset = (n.wrapping_mul(2654435761) % 60) as i64 - 20;
    let price = match side {
        "buy" => 880_000 - offset,
        _ => 880_000 + offset,
    };
    let params = format!("ordertype=limit&type={side}&volume=0.001&pair=XBTUSD&price={}.{}", price / 10, price % 10);
    ("signed durable AddOrder", conn.signed(key, "AddOrder", nonce(&mut st.last_nonce), &params))
}

/// Places a buy far below the market (it rests), then cancels it on the client's next turn.
fn add_cancel_request(conn: &mut Conn, key: &Key, st: &mut ClientState, n: u64) -> (&'static str, Result<String, String>) {
    if let Some(txid) = st.resting.take() {
        return (
            "signed CancelOrder (of a resting order)",
            conn.signed(key, "CancelOrder", nonce(&mut st.last_nonce), &format!("txid={txid}")),
        );
    }
    let price = 40_000 + n % 1_000;
    let params = format!("ordertype=limit&type=buy&volume=0.001&pair=XBTUSD&price={price}");
    let answer = conn.signed(key, "AddOrder", nonce(&mut st.last_nonce), &params);
    if let Ok(body) = &answer {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        st.resting = v["result"]["txid"][0].as_str().map(str::to_string);
    }
    ("signed AddOrder (resting, to be canceled)", answer)
}

/// User + system CPU seconds of the server and of this process, now.
fn cpu_now(server: &Server) -> (f64, f64) {
    let cpu = |pid| super::flood::cpu_secs(pid).unwrap_or(0.0);
    (cpu(server.child.id()), cpu(std::process::id()))
}

/// The server's group-commit durations so far: (bucket bound in seconds, commits at or under it),
/// from `/metrics`.
fn commit_buckets(url: &str) -> Vec<(f64, u64)> {
    let text = ureq::get(&format!("{url}/metrics")).call().ok().and_then(|r| r.into_string().ok()).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("calamari_storage_commit_duration_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"}")?;
            Some((if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? }, rest.trim().parse().ok()?))
        })
        .collect()
}

/// Of the commits between two [`commit_buckets`] readings: how many took over 5 ms, and the
/// bound under which the slowest one fell (ms; "none" when nothing was committed).
fn slow_commits(before: &[(f64, u64)], after: &[(f64, u64)]) -> (u64, String) {
    let delta: Vec<(f64, u64)> = after.iter().map(|&(le, n)| (le, n - before.iter().find(|b| b.0 == le).map_or(0, |b| b.1))).collect();
    let total = delta.last().map_or(0, |d| d.1);
    let under_5ms = delta.iter().filter(|d| d.0 <= 0.005).map(|d| d.1).max().unwrap_or(0);
    let slowest = delta.iter().find(|d| d.1 == total).map_or(0.0, |d| d.0 * 1000.0);
    (total - under_5ms, if total == 0 { "none".to_string() } else { format!("{slowest}") })
}

/// The markdown row of one phase's figures; `cpu` is (server, loadgen) CPU seconds used in it.
fn table_row(name: &str, row: &Row, seconds: u64, baseline: f64, cpu: (f64, f64)) -> String {
    let rate = row.latencies_us.len() as f64 / seconds as f64;
    let (server, client) = cpu;
    let share = if server + client > 0.0 { 100.0 * client / (server + client) } else { 0.0 };
    format!(
        "| {name} | {rate:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.2} | {:.2} | {share:.0}% |\n",
        rate / baseline,
        percentile(&row.latencies_us, 0.50) as f64 / 1000.0,
        percentile(&row.latencies_us, 0.99) as f64 / 1000.0,
        row.kraken_errors,
        row.not_kraken,
        server / seconds as f64,
        client / seconds as f64,
    )
}

pub fn throughput() {
    let clients = arg("--clients", 16) as usize;
    let seconds = arg("--seconds", 10);
    let half_peak = arg("--half-peak", 1) != 0;
    let only = super::arg_text("--phases", "time,balance,addorder,cancel");
    let server = Server::start(&["--limits", "off"], &[], Stdio::inherit());
    let url = server.url.clone();
    let keys: Vec<Arc<Key>> = (0..clients).map(|i| server.account_with_key(&format!("load{i}"), "intermediate")).collect();

    println!(
        "loadgen: {clients} clients, {seconds} s per phase, server {url} (pid {}, limits off), {} cores",
        server.child.id(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let mut table = String::from(
        "| request | requests/s | ratio to GET Time | p50 ms | p99 ms | Kraken errors | non-Kraken answers | server CPU (cores) | loadgen CPU (cores) | loadgen's share |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let phases: [(&str, Request); 4] =
        [("time", time_request), ("balance", balance_request), ("addorder", add_order_request), ("cancel", add_cancel_request)];
    let mut baseline = 0.0;
    let mut problems = Vec::new();
    let mut peaks: Vec<(&str, Request, f64)> = Vec::new();
    let check = |name: &str, row: &Row, problems: &mut Vec<String>| {
        if let Some(p) = &row.first_problem {
            eprintln!("first answer that was not OK in {name}: {p}");
        }
        if row.not_kraken > 0 || row.kraken_errors > 0 {
            problems.push(format!("{name}: {} Kraken errors, {} non-Kraken answers", row.kraken_errors, row.not_kraken));
        }
    };
    for (short, request) in phases {
        if !only.split(',').any(|p| p == short) {
            continue;
        }
        let before = cpu_now(&server);
        let rows = run_phase(&url, clients, seconds, &keys, request, None);
        let after = cpu_now(&server);
        let cpu = (after.0 - before.0, after.1 - before.1);
        for (name, row) in rows {
            let rate = row.latencies_us.len() as f64 / seconds as f64;
            if baseline == 0.0 {
                baseline = rate;
            }
            table.push_str(&table_row(name, &row, seconds, baseline, cpu));
            if short == "balance" || short == "addorder" {
                peaks.push((name, request, rate));
            }
            check(name, &row, &mut problems);
        }
    }
    let mut open = String::new();
    if half_peak && !peaks.is_empty() {
        open.push_str(
            "| request, open loop | rate asked (half the peak) | requests/s | p50 ms | p99 ms | Kraken errors | non-Kraken answers | server CPU (cores) | loadgen CPU (cores) | loadgen's share | group commits over 5 ms | slowest commit under (ms) |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (name, request, peak) in peaks {
            let asked = (peak / 2.0).max(1.0);
            let commits_before = commit_buckets(&url);
            let before = cpu_now(&server);
            let rows = run_phase(&url, clients, seconds, &keys, request, Some(asked));
            let after = cpu_now(&server);
            let (slow, slowest) = slow_commits(&commits_before, &commit_buckets(&url));
            let cpu = (after.0 - before.0, after.1 - before.1);
            for (_, row) in rows {
                let line = table_row(name, &row, seconds, 1.0, cpu);
                // Same columns as the closed-loop row, with the asked rate in place of the ratio.
                let cells: Vec<&str> = line.trim_end().trim_matches('|').split(" | ").map(str::trim).collect();
                open.push_str(&format!(
                    "| {name} | {asked:.0} | {} | {slow} | {slowest} |\n",
                    [&cells[1..2], &cells[3..]].concat().join(" | ")
                ));
                check(name, &row, &mut problems);
            }
        }
    }
    print!("{table}");
    if !open.is_empty() {
        print!("\n{open}");
    }
    let audit = super::audit_problem(&server);
    write_markdown(&format!(
        "{table}{}\nAfter the load: {}.\n",
        if open.is_empty() {
            String::new()
        } else {
            format!("\n**At half the peak rate** (open loop, the same {clients} clients on a fixed schedule, latency from each request's due time; the group commits of the row from the server's `/metrics`):\n\n{open}")
        },
        if audit.is_none() {
            "the audit passes (every asset sums to zero over all accounts, holds equal open orders) and the server counted 0 panics"
        } else {
            "**the audit or the panic check FAILED**"
        }
    ));
    drop(server);
    if let Some(a) = audit {
        problems.push(format!("after the load: {a}"));
    }
    if !problems.is_empty() {
        eprintln!("loadgen: {}", problems.join("; "));
        std::process::exit(1);
    }
}
