//! What the simulated market costs, for BENCHMARKS.md §5.
//!
//! * `loadgen market [--clients 8] [--seconds 5] [--rounds 3] [--markdown FILE]`: users first.
//!   Three fresh servers at once (market off, on at the default rate, on at 10x the rate), then
//!   rounds of signed durable AddOrder load (throughput's phase 3) against each in turn, so that
//!   all three see the same machine; only the loaded server's simulator runs during its phase.
//!   p50/p99 of each over all rounds, and p99's ratio to off.
//! * `loadgen market-day [--speed 1000] [--rate 1] [--markdown FILE]`: storage. A fresh server
//!   whose simulator runs `speed` times faster than real time, until it has run one simulated
//!   day of steps; then the data directory's size, the log's records (by `calamari replay`,
//!   which also times a full replay), the wall time, the server's resident memory at each quarter
//!   of the day, and after a restart of the same data directory (market off).

use super::throughput::{add_order_request, run_phase, Row};
use super::{arg, percentile, write_markdown, Key, Server};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn side_by_side() {
    let clients = arg("--clients", 8) as usize;
    let seconds = arg("--seconds", 5);
    let rounds = arg("--rounds", 3);
    let setups: [(&str, &[&str], &str); 3] = [
        ("market off", &["--limits", "off", "--market", "off"], ""),
        ("market on, default rate", &["--limits", "off", "--market", "on"], ""),
        ("market on, 10x rate", &["--limits", "off", "--market", "on", "--config", "{data}/rate.toml"], "[market]\nrate = 10\n"),
    ];
    let servers: Vec<(&str, Server, Vec<Arc<Key>>)> = setups
        .iter()
        .map(|(name, args, config)| {
            let s = Server::start(args, &[("rate.toml", config.to_string())], Stdio::inherit());
            let keys = (0..clients).map(|i| s.account_with_key(&format!("load{i}"), "intermediate")).collect();
            (*name, s, keys)
        })
        .collect();
    // Let the simulators fund their accounts, write their history and quote.
    std::thread::sleep(Duration::from_secs(5));
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); servers.len()];
    // Per round, each server's p99 over its phase; the order of the servers rotates per round.
    let mut round_p99: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut problems = (0u64, 0u64);
    for round in 0..rounds as usize {
        for k in 0..servers.len() {
            let i = (k + round) % servers.len();
            let (_, s, keys) = &servers[i];
            // Only the simulator of the server under load runs (the others would share the cores).
            for (j, (_, other, _)) in servers.iter().enumerate().skip(1) {
                other.cli(&["market", if i == j { "on" } else { "off" }]);
            }
            let rows = run_phase(&s.url, clients, seconds, keys, add_order_request, None);
            for (_, row) in rows {
                let Row { mut latencies_us, kraken_errors, not_kraken, .. } = row;
                latencies_us.sort_unstable();
                round_p99[i].push(percentile(&latencies_us, 0.99) as f64 / 1000.0);
                latencies[i].extend(latencies_us);
                problems.0 += kraken_errors;
                problems.1 += not_kraken;
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let mut table = String::from(
        "| server | AddOrders | requests/s | p50 ms | p99 ms (all rounds) | p99 vs market off | median of the rounds' p99 ratios | simulator during the run |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut p99_off = 0.0;
    for (i, (name, s, _)) in servers.iter().enumerate() {
        let mut l = latencies[i].clone();
        l.sort_unstable();
        let p99 = percentile(&l, 0.99) as f64 / 1000.0;
        if i == 0 {
            p99_off = p99;
        }
        let ratios: Vec<f64> = round_p99[i].iter().zip(&round_p99[0]).map(|(a, b)| a / b - 1.0).collect();
        let shown: serde_json::Value = serde_json::from_str(&s.cli(&["market", "show", "XBTUSD", "--json"])).unwrap_or_default();
        let taker_orders = shown["simulator"]["totals"]["taker_orders"].as_u64().unwrap_or(0);
        table.push_str(&format!(
            "| {name} | {} | {:.0} | {:.2} | {p99:.2} | {:+.1}% | {:+.1}% | {taker_orders} taker orders |\n",
            l.len(),
            l.len() as f64 / (seconds * rounds) as f64,
            percentile(&l, 0.50) as f64 / 1000.0,
            (p99 / p99_off - 1.0) * 100.0,
            median(ratios) * 100.0
        ));
    }
    let audits: Vec<Option<String>> = servers.iter().map(|(_, s, _)| super::audit_problem(s)).collect();
    print!("{table}");
    write_markdown(&format!(
        "{table}\n{clients} closed-loop clients, {rounds} rounds of {seconds} s per server, servers interleaved; Kraken errors {}, \
         non-Kraken answers {}; audits after the load: {}.\n",
        problems.0,
        problems.1,
        if audits.iter().all(Option::is_none) { "all pass, 0 panics" } else { "**FAILED**" }
    ));
    if problems.1 > 0 || audits.iter().any(Option::is_some) {
        eprintln!("loadgen market: {audits:?}");
        std::process::exit(1);
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

pub fn simulated_day() {
    let speed = arg("--speed", 1000);
    let rate = arg("--rate", 1);
    let day_steps = 86_400;
    let config = format!("[market]\nspeed = {speed}\nrate = {rate}\n");
    let mut s = Server::start(
        &["--limits", "off", "--market", "on", "--config", "{data}/market.toml"],
        &[("market.toml", config)],
        Stdio::inherit(),
    );
    let started = Instant::now();
    let after_genesis = {
        std::thread::sleep(Duration::from_secs(2));
        dir_bytes(&s.data)
    };
    let mut last_print = Instant::now();
    // Resident memory as the day goes: at each quarter of its steps.
    let mut quarters: Vec<f64> = Vec::new();
    let shown = loop {
        std::thread::sleep(Duration::from_secs(2));
        let v: serde_json::Value = serde_json::from_str(&s.cli(&["market", "show", "XBTUSD", "--json"])).unwrap_or_default();
        let step = v["simulator"]["step"].as_u64().unwrap_or(0);
        if last_print.elapsed() > Duration::from_secs(30) {
            println!("market-day: step {step} after {:.0} s, {:.1} MB", started.elapsed().as_secs_f64(), dir_bytes(&s.data) as f64 / 1e6);
            last_print = Instant::now();
        }
        while quarters.len() < 3 && step >= day_steps * (quarters.len() as u64 + 1) / 4 {
            quarters.push(rss_mb(s.child.id()));
        }
        if step >= day_steps {
            s.cli(&["market", "off"]);
            break v;
        }
    };
    let wall = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_mb(s.child.id());
    let audit: serde_json::Value = serde_json::from_str(&s.cli(&["audit"])).unwrap_or_default();
    let bytes = dir_bytes(&s.data);
    let t = Instant::now();
    let replay: serde_json::Value = serde_json::from_str(&s.cli(&["replay"])).unwrap_or_default();
    let replay_s = t.elapsed().as_secs_f64();
    // Then a restart (from the newest checkpoint and the log after it), the market off so that
    // nothing is added: the resident memory of the same state, rebuilt without its history.
    let restart_s = s.restart(&[("--market", "off")]);
    std::thread::sleep(Duration::from_secs(3));
    let rss_restarted = rss_mb(s.child.id());
    let after: serde_json::Value = serde_json::from_str(&s.cli(&["audit"])).unwrap_or_default();
    let same = after["digest"] == audit["digest"];
    let totals = &shown["simulator"]["totals"];
    let row = format!(
        "| {rate}x | {steps} | {wall:.0} s | {:.1} MB | {:.1} MB | {} | {} | {} | {} | {} / {rss:.0} MB | {rss_restarted:.0} MB ({:+.0}%) in {restart_s:.1} s | {replay_s:.1} s | {} |\n",
        bytes as f64 / 1e6,
        (bytes - after_genesis.min(bytes)) as f64 / 1e6,
        replay["records"],
        totals["requotes"],
        totals["taker_orders"],
        audit["trades"],
        quarters.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(" / "),
        (rss_restarted / rss - 1.0) * 100.0,
        if audit["ok"] == true && replay["digest"] == audit["digest"] && same {
            "audit ok, replay and restart digests equal"
        } else {
            "**FAILED**"
        },
        steps = shown["simulator"]["step"],
    );
    let header = "| rate | steps (s simulated) | wall time | data directory | of which the day's commands | log records | re-quotes | taker orders | trade records | server RSS at ¼ / ½ / ¾ / all of the day | RSS after a restart | `calamari replay` | check |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    print!("{header}{row}");
    write_markdown(&format!("{header}{row}"));
}
