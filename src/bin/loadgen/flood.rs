//! `loadgen flood`: the call restrictions under attack. A server with the default `kraken` limits
//! profile; well-behaved clients doing paced, signed Balance calls on their own keys, on the idle
//! server before and after, and while flood connections, each bound to its own loopback source
//! address (127.a.b.c, so the server sees thousands of client addresses), send invalid private
//! requests (an unknown key, a real key with a wrong signature) and public calls. It prints the
//! good clients' p50/p99 idle and under the flood (and the ratio), the flood's requests/s and its
//! answers counted by error string, and the server's `/metrics` after. See [`flood`] for the
//! options.

use super::{arg, arg_text, nonce, percentile, Key, Outcome, Server};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The good clients' REST counter override (see [`flood`]).
const GOOD_CLIENTS_LIMITS: &str = "[limits]\nprofile = \"kraken\"\nrest = { pro = { max = 1000000, decay = 1000000 } }\n";

/// `loadgen flood [--seconds 10] [--good 4] [--rate 100] [--flooders 16] [--per-address 24]
/// [--flood-rate N] [--max-tracked N] [--profile kraken]`
///
/// The server runs with `--limits kraken` and a config file holding only a `[limits]` table that
/// gives the pro tier a REST counter of 1,000,000 calls draining 1,000,000/s; the good clients'
/// accounts are pro, the flood has no valid key, so every other figure the flood meets is
/// Kraken's (lockout after 10 failures for 900 s, public 15 calls draining 1/s per address,
/// 100,000 tracked addresses unless `--max-tracked`). Why not Kraken's pro counter (20, 1/s):
/// paced under it a client makes 1 call/s, 10 calls per phase per client, too few for a p99; the
/// counter's own cost is paid either way (only its ceiling is raised).
///
/// Good clients: `--good` threads on keep-alive connections from 127.0.0.1, each a signed Balance
/// every 1/`--rate` s on its own key. Latency is measured from the time each call was due, not
/// from when it was sent, so a stall that delays later calls counts against them too.
///
/// Flood: `--flooders` threads, each opening connection after connection, every one bound to the
/// next unused source address in 127.1.0.0-127.254.255.255 (127.0.0.1, the good clients' and the
/// operator's, is never used) and sending `--per-address` requests on it, in turn: a Balance with
/// an unknown key, a Balance with a real key (a victim account's) and a wrong signature, and
/// `GET /0/public/Time`, as fast as the server answers or, with `--flood-rate`, at most that many
/// requests/s in all. A minimal HTTP/1.1 client over `TcpStream` (ureq cannot bind a source
/// address); the socket is bound with tokio's `TcpSocket`, then used blocking.
pub fn flood() {
    let seconds = arg("--seconds", 10);
    let good = arg("--good", 4) as usize;
    let rate = arg("--rate", 100).max(1);
    let flooders = arg("--flooders", 16) as usize;
    let per_address = arg("--per-address", 24).max(1);
    let max_tracked = arg("--max-tracked", 0);
    let flood_rate = arg("--flood-rate", 0);
    // `--profile off` is the control: the same flood with no limits (no lockouts), to tell the
    // limiter's part in the good clients' latency from the flood's.
    let profile = arg_text("--profile", "kraken");
    let mut config = GOOD_CLIENTS_LIMITS.to_string();
    if max_tracked > 0 {
        config.push_str(&format!("max_tracked_addresses = {max_tracked}\n"));
    }
    // The server warns once per lockout: its stderr goes to a file, counted at the end.
    let log_path = std::env::temp_dir().join(format!("calamari-loadgen-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).expect("server log");
    let server = Server::start(&["--limits", &profile, "--config", "{data}/limits.toml"], &[("limits.toml", config.clone())], log.into());
    let url = server.url.clone();
    let keys: Vec<Arc<Key>> = (0..good).map(|i| server.account_with_key(&format!("good{i}"), "pro")).collect();
    let victim = server.account_with_key("victim", "pro");
    let target: SocketAddr = url.trim_start_matches("http://").parse().expect("server address");

    println!(
        "loadgen flood: server {url}, limits profile {profile} + {:?}, {} cores",
        config.lines().skip(2).collect::<Vec<_>>().join("; "),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!(
        "good clients: {good} × signed Balance at {rate}/s each (pro tier); flood: {flooders} connections, {per_address} requests per source address, {}; {seconds} s per phase",
        if flood_rate > 0 { format!("at most {flood_rate} requests/s") } else { "unpaced".to_string() }
    );

    let idle_before = good_clients(&url, &keys, rate, seconds);

    let cpu_before = (cpu_secs(server.child.id()), cpu_secs(std::process::id()));
    let stop = Arc::new(AtomicBool::new(false));
    let next_address = Arc::new(AtomicU64::new(0));
    let flood_started = Instant::now();
    let flood_threads: Vec<_> = (0..flooders)
        .map(|_| {
            let (stop, next_address, victim) = (stop.clone(), next_address.clone(), victim.clone());
            // Each thread's share of `--flood-rate` (0: as fast as the server answers).
            let interval = (flood_rate > 0).then(|| Duration::from_nanos(1_000_000_000 * flooders as u64 / flood_rate));
            std::thread::spawn(move || flood_client(target, &victim, per_address, interval, &next_address, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let under_flood = good_clients(&url, &keys, rate, seconds);
    stop.store(true, Ordering::Relaxed);
    let mut answers: BTreeMap<String, u64> = BTreeMap::new();
    for t in flood_threads {
        for (k, v) in t.join().expect("flood thread") {
            *answers.entry(k).or_default() += v;
        }
    }
    let flood_secs = flood_started.elapsed().as_secs_f64();
    let cpu_after = (cpu_secs(server.child.id()), cpu_secs(std::process::id()));
    let flood_requests: u64 = answers.values().sum();
    let addresses = next_address.load(Ordering::Relaxed);
    // The idle figure is measured before and after the flood (this VM's latency drifts between
    // runs): the ratio is against both pooled.
    let idle_after = good_clients(&url, &keys, rate, seconds);
    let mut idle =
        Outcome { latencies_us: idle_before.latencies_us.clone(), errors: idle_before.errors + idle_after.errors, first_error: None };
    idle.latencies_us.extend(&idle_after.latencies_us);
    idle.latencies_us.sort_unstable();

    println!("\n| good clients' signed Balance | calls | p50 ms | p99 ms | max ms | non-OK answers |");
    println!("|---|---:|---:|---:|---:|---:|");
    let rows = [
        ("idle, before the flood", &idle_before),
        ("idle, after the flood", &idle_after),
        ("idle, both", &idle),
        ("under the flood", &under_flood),
    ];
    for (name, o) in rows {
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {} |",
            o.latencies_us.len(),
            percentile(&o.latencies_us, 0.50) as f64 / 1000.0,
            percentile(&o.latencies_us, 0.99) as f64 / 1000.0,
            o.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
            o.errors
        );
    }
    let ratio = |p: f64| percentile(&under_flood.latencies_us, p) as f64 / percentile(&idle.latencies_us, p).max(1) as f64;
    let p99_ratio = ratio(0.99);
    println!(
        "ratio under flood / idle: p50 {:.2}×, p99 {:.2}× (aim: p99 within 2×: {})",
        ratio(0.50),
        p99_ratio,
        if p99_ratio <= 2.0 { "met" } else { "missed" }
    );
    println!(
        "\nflood: {flood_requests} requests in {flood_secs:.1} s = {:.0} requests/s from {addresses} source addresses ({:.0} new addresses/s)",
        flood_requests as f64 / flood_secs,
        addresses as f64 / flood_secs
    );
    if let ((Some(s0), Some(l0)), (Some(s1), Some(l1))) = (cpu_before, cpu_after) {
        println!(
            "CPU during the flood phase ({:.0} core-seconds available): server {:.1} s, loadgen (flood and good clients) {:.1} s",
            flood_secs * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64,
            s1 - s0,
            l1 - l0
        );
    }
    const KRAKEN_ANSWERS: [&str; 5] =
        ["OK", "EAPI:Invalid key", "EAPI:Invalid signature", "EGeneral:Temporary lockout", "EGeneral:Too many requests"];
    println!("| answer to the flood | count |");
    println!("|---|---:|");
    let mut unexpected = 0;
    for (k, v) in &answers {
        let expected = KRAKEN_ANSWERS.contains(&k.as_str());
        if !expected {
            unexpected += v;
        }
        println!("| {k}{} | {v} |", if expected { "" } else { " (unexpected)" });
    }

    let metrics = ureq::get(&format!("{url}/metrics")).call().ok().and_then(|r| r.into_string().ok()).unwrap_or_default();
    println!("\nserver /metrics after the flood (counters and gauges; histograms left out):");
    for line in metrics.lines().filter(|l| !l.starts_with('#') && !l.contains("_bucket{")) {
        println!("  {line}");
    }
    drop(server);
    let warnings = std::fs::read_to_string(&log_path).map(|t| t.lines().filter(|l| l.contains("lockout")).count()).unwrap_or(0);
    println!("server log: {warnings} lockout warnings");
    let _ = std::fs::remove_file(&log_path);

    let mut failed = false;
    for (name, o) in [("idle, before", &idle_before), ("under the flood", &under_flood), ("idle, after", &idle_after)] {
        if let Some(e) = &o.first_error {
            eprintln!("first non-OK answer to a good client ({name}): {e}");
            failed = true;
        }
    }
    if unexpected > 0 {
        eprintln!("{unexpected} flood answers were not Kraken envelopes with an expected error");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}

/// User plus system CPU seconds a process has used (Linux: /proc; clock ticks of 1/100 s).
pub(super) fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are
    // the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?) as f64 / 100.0)
}

/// `keys.len()` paced clients for `seconds`; latencies from each call's due time.
fn good_clients(url: &str, keys: &[Arc<Key>], rate: u64, seconds: u64) -> Outcome {
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now() + Duration::from_millis(20);
    let deadline = start + Duration::from_secs(seconds);
    let handles: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let (url, key) = (url.to_string(), key.clone());
            // Clients start spread over one interval rather than all at once.
            let first = start + interval * i as u32 / keys.len() as u32;
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                let mut last_nonce = 0;
                let (mut lat, mut errors, mut first_error) = (Vec::new(), 0, None);
                let mut due = first;
                while due < deadline {
                    let now = Instant::now();
                    if now < due {
                        std::thread::sleep(due - now);
                    }
                    let body = super::signed(&agent, &url, &key, "Balance", nonce(&mut last_nonce), "");
                    lat.push(due.elapsed().as_micros() as u64);
                    if !body.as_ref().is_ok_and(|b| b.starts_with("{\"error\":[]")) {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{body:?}"));
                    }
                    due += interval;
                }
                Outcome { latencies_us: lat, errors, first_error }
            })
        })
        .collect();
    let mut out = Outcome { latencies_us: Vec::new(), errors: 0, first_error: None };
    for h in handles {
        let o = h.join().expect("good client");
        out.latencies_us.extend(o.latencies_us);
        out.errors += o.errors;
        out.first_error = out.first_error.or(o.first_error);
    }
    out.latencies_us.sort_unstable();
    out
}

/// The `n`-th flood source address: 127.1.0.0 upwards, skipping nothing else (every 127.x.y.z
/// is loopback on Linux).
fn flood_address(n: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from((127u32 << 24) + (1 << 16) + (n as u32 % ((254 << 16) - 1))))
}

/// One flood thread: connections from fresh addresses until `stop`; answers counted by their
/// first error string ("OK" for none, "HTTP <status>" for a non-200, "io: …" for a failure).
fn flood_client(
    target: SocketAddr,
    victim: &Key,
    per_address: u64,
    interval: Option<Duration>,
    next: &AtomicU64,
    stop: &AtomicBool,
) -> BTreeMap<String, u64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("runtime");
    let mut answers: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_nonce = 0;
    let mut due = Instant::now();
    let mut pace = || {
        if let Some(interval) = interval {
            let now = Instant::now();
            if now < due {
                std::thread::sleep(due - now);
            }
            // Behind schedule (the server is slower than the rate): no catching up in a burst.
            due = due.max(now) + interval;
        }
    };
    'addresses: while !stop.load(Ordering::Relaxed) {
        let ip = flood_address(next.fetch_add(1, Ordering::Relaxed));
        let stream = rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(target).await?.into_std()
        });
        let mut conn = match stream.and_then(|s| {
            s.set_nonblocking(false)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            Ok(BufReader::new(s))
        }) {
            Ok(c) => c,
            Err(e) => {
                *answers.entry(format!("io: connect: {}", e.kind())).or_default() += 1;
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        for j in 0..per_address {
            pace();
            if stop.load(Ordering::Relaxed) {
                break 'addresses;
            }
            let request = match j % 3 {
                0 => private_request("Balance", "AAAAUnknownKeyFromTheFlood", "c2lnbmF0dXJl", &format!("nonce={}", nonce(&mut last_nonce))),
                1 => {
                    let body = format!("nonce={}", nonce(&mut last_nonce));
                    let wrong = calamari::auth::sign("/0/private/Balance", &body[6..], body.as_bytes(), b"a guessed secret");
                    private_request("Balance", &victim.key, &wrong, &body)
                }
                _ => "GET /0/public/Time HTTP/1.1\r\nHost: calamari\r\n\r\n".to_string(),
            };
            let answer = match http(&mut conn, request.as_bytes()) {
                Ok((200, body)) => match serde_json::from_str::<serde_json::Value>(&body) {
                    Ok(v) => match v["error"].as_array() {
                        Some(errors) if errors.is_empty() => "OK".to_string(),
                        Some(errors) => errors[0].as_str().unwrap_or("non-string error").to_string(),
                        None => "no error field".to_string(),
                    },
                    Err(_) => "not JSON".to_string(),
                },
                Ok((status, _)) => format!("HTTP {status}"),
                Err(e) => {
                    *answers.entry(format!("io: {}", e.kind())).or_default() += 1;
                    continue 'addresses;
                }
            };
            *answers.entry(answer).or_default() += 1;
        }
    }
    answers
}

fn private_request(method: &str, key: &str, sign: &str, body: &str) -> String {
    format!(
        "POST /0/private/{method} HTTP/1.1\r\nHost: calamari\r\nAPI-Key: {key}\r\nAPI-Sign: {sign}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One request and its answer on a keep-alive connection: (status, body). Bodies come with a
/// Content-Length (axum's); anything else is an error here.
fn http(conn: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<(u16, String)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    conn.get_mut().write_all(request)?;
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
    }
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
    let mut length = None;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; length.ok_or_else(|| bad("no content-length"))?];
    conn.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
