//! The cost of the gate a private call passes before its method runs, and of the limiter's
//! other per-request paths, against a bare HMAC-SHA512 signature check measured in the same run.
//! `cargo bench --bench limits`.
//!
//! The gate is what `api::private_inner` does between the route and `private::dispatch`, with
//! the real functions, in its order: read the clock, `Limits::check_lockout`,
//! `auth::authenticate` (key lookup, nonce syntax, HMAC-SHA512 over path + SHA256(nonce + body),
//! nonce freshness), `Limits::auth_succeeded`, `Limits::enter` (the in-flight guard, dropped at
//! the end), `Limits::charge_rest`. Every timed request is a correctly signed Balance body with a
//! fresh, increasing nonce, signed before the timed loop (signing is the client's cost), and every
//! answer is checked after the loop so that a cheap rejection cannot pass for the gate.
//!
//! Rows: the baseline (`auth::verify` alone), `authenticate` alone, the limiter alone, the gate
//! with a REST counter that never refuses (the bookkeeping), the gate with Kraken's figures and a
//! full counter (the `EAPI:Rate limit exceeded` answer), invalid requests (a bad signature from a
//! new address, a refused call from a locked-out address, a bad key from a new address when the
//! address table is at its bound), and `check_public`. The summary at the end gives each row as a
//! multiple of the bare HMAC verify; no figure is asserted.

use calamari::auth::{self, ApiKey, KeyRegistry, Permissions};
use calamari::clock::Clock;
use calamari::error::KrakenError;
use calamari::limits::policy::{PublicConfig, RuleConfig, TierConfig};
use calamari::limits::{Limits, LimitsConfig, Policy, Profile};
use criterion::Criterion;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "BENCHKEY";
const PATH: &str = "/0/private/Balance";
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const GROUP: &str = "limits";

/// One request as it reaches the server: nonce text, raw body, `API-Sign`.
struct Signed {
    nonce: String,
    body: String,
    sign: String,
}

struct Fixture {
    registry: KeyRegistry,
    secret: Vec<u8>,
    /// The next nonce to sign (the key accepts only increasing ones).
    next_nonce: u64,
    clock: Clock,
}

impl Fixture {
    fn new() -> Fixture {
        let secret: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        let registry = KeyRegistry::new();
        registry.insert(Arc::new(ApiKey::new(1, KEY.into(), 2, "bench".into(), Permissions::ALL, secret.clone(), 0)));
        Fixture { registry, secret, next_nonce: 1, clock: Clock::system() }
    }

    /// `n` correctly signed Balance requests with increasing nonces.
    fn signed(&mut self, n: u64) -> Vec<Signed> {
        (0..n)
            .map(|_| {
                let nonce = self.next_nonce.to_string();
                self.next_nonce += 1;
                let body = format!("nonce={nonce}");
                let sign = auth::sign(PATH, &nonce, body.as_bytes(), &self.secret);
                Signed { nonce, body, sign }
            })
            .collect()
    }

    /// A request with a signature made with another secret.
    fn badly_signed(&mut self) -> Signed {
        let mut s = self.signed(1).pop().unwrap();
        s.sign = auth::sign(PATH, &s.nonce, s.body.as_bytes(), b"not the secret");
        s
    }
}

fn request<'a>(s: &'a Signed, api_key: &'a str, client: IpAddr, now_secs: i64) -> auth::Request<'a> {
    auth::Request {
        api_key: Some(api_key),
        api_sign: Some(&s.sign),
        path: PATH,
        nonce: Some(&s.nonce),
        body: s.body.as_bytes(),
        otp: None,
        client,
        now_secs,
    }
}

/// `api::private_inner` up to `private::dispatch` (less the body parse and the permission
/// bit test, which the limits do not change).
fn gate(limits: &Arc<Limits>, f: &Fixture, s: &Signed, api_key: &str, client: IpAddr) -> Result<(), KrakenError> {
    let now_us = f.clock.now_us();
    limits.check_lockout(client, now_us)?;
    let now_secs = now_us / 1_000_000;
    let key = match auth::authenticate(&f.registry, &request(s, api_key, client, now_secs as i64)) {
        Ok(key) => {
            limits.auth_succeeded(client);
            key
        }
        Err(e) => {
            if matches!(e, KrakenError::InvalidKey | KrakenError::InvalidSignature | KrakenError::InvalidNonce) {
                limits.auth_failed(client, now_us);
            }
            return Err(e);
        }
    };
    let _in_flight = limits.enter(key.id, now_secs)?;
    limits.charge_rest(key.id, key.account_id, "Balance", now_us)?;
    Ok(())
}

/// The Kraken profile with a REST counter no benchmark can fill (1e9 calls, draining 1e9/s) and,
/// if `public`, a public counter likewise: every other figure is Kraken's.
fn never_refusing(public: bool) -> Policy {
    let huge = RuleConfig { max: 1e9, decay: 1e9 };
    let cfg = LimitsConfig {
        profile: Profile::Kraken,
        rest: Some(TierConfig { unverified: Some(huge), starter: Some(huge), intermediate: Some(huge), pro: Some(huge) }),
        public: public.then(|| PublicConfig { max: Some(1e9), decay: Some(1e9), ..Default::default() }),
        ..Default::default()
    };
    Policy::from_config(&cfg, None).expect("valid overrides")
}

fn kraken() -> Policy {
    Policy::preset(Profile::Kraken)
}

/// Distinct addresses, 10.0.0.0 upwards.
fn address(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0A00_0000u32.wrapping_add(n)))
}

/// Times one run of `each` per input (the inputs made beforehand, untimed), and checks every
/// answer afterwards with `ok`.
fn timed<I, R>(iters: u64, inputs: Vec<I>, mut each: impl FnMut(&I) -> R, ok: impl Fn(&R) -> bool, what: &str) -> Duration {
    assert_eq!(inputs.len() as u64, iters);
    let mut results = Vec::with_capacity(inputs.len());
    let t0 = Instant::now();
    for i in &inputs {
        results.push(each(black_box(i)));
    }
    let elapsed = t0.elapsed();
    let bad = results.iter().filter(|r| !ok(r)).count();
    assert_eq!(bad, 0, "{what}: {bad} of {iters} answers were not the expected one");
    elapsed
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));

    // The baseline: one HMAC-SHA512 verification of a Balance body (base64 decode, SHA-256 of
    // nonce + body, HMAC-SHA512, constant-time compare).
    let mut f = Fixture::new();
    let one = f.signed(1).pop().unwrap();
    assert!(auth::verify(PATH, &one.nonce, one.body.as_bytes(), &f.secret, &one.sign));
    group.bench_function("hmac_verify", |b| {
        b.iter(|| auth::verify(PATH, black_box(&one.nonce), black_box(one.body.as_bytes()), &f.secret, black_box(&one.sign)))
    });

    // `authenticate` alone: key lookup, nonce syntax, verify, nonce freshness.
    let mut f = Fixture::new();
    group.bench_function("authenticate", |b| {
        b.iter_custom(|iters| {
            let inputs = f.signed(iters);
            let now = (f.clock.now_us() / 1_000_000) as i64;
            timed(
                iters,
                inputs,
                |s| auth::authenticate(&f.registry, &request(s, KEY, CLIENT, now)).map(|k| k.id),
                |r| r.is_ok(),
                "authenticate",
            )
        })
    });

    // The limiter alone, as the gate calls it for an accepted request.
    let limits = Arc::new(Limits::new(never_refusing(false)));
    let clock = Clock::system();
    group.bench_function("limiter_only", |b| {
        b.iter(|| {
            let now_us = clock.now_us();
            limits.check_lockout(CLIENT, now_us)?;
            limits.auth_succeeded(CLIENT);
            let _g = limits.enter(1, now_us / 1_000_000)?;
            limits.charge_rest(1, 2, "Balance", now_us)
        })
    });

    // The whole gate, counters that never refuse: the bookkeeping of an accepted request.
    let limits = Arc::new(Limits::new(never_refusing(false)));
    let mut f = Fixture::new();
    group.bench_function("gate", |b| {
        b.iter_custom(|iters| {
            let inputs = f.signed(iters);
            timed(iters, inputs, |s| gate(&limits, &f, s, KEY, CLIENT), |r| r.is_ok(), "gate")
        })
    });

    // Kraken's figures, the key's REST counter full: every call ends `EAPI:Rate limit exceeded`
    // (after a full authentication, which consumes the nonce, as on Kraken), but for the one call
    // in three seconds that the starter tier's drain of 0.33/s lets through.
    let limits = Arc::new(Limits::new(kraken()));
    let mut f = Fixture::new();
    for s in f.signed(20) {
        let _ = gate(&limits, &f, &s, KEY, CLIENT);
    }
    group.bench_function("gate_rate_limited", |b| {
        b.iter_custom(|iters| {
            let inputs = f.signed(iters);
            timed(
                iters,
                inputs,
                |s| gate(&limits, &f, s, KEY, CLIENT),
                |r| matches!(r, Err(KrakenError::RateLimitExceeded) | Ok(())),
                "gate_rate_limited",
            )
        })
    });

    // A bad signature on a real key from a new address (the table below its bound): the HMAC is
    // computed, the failure counted.
    let mut limits = Arc::new(Limits::new(kraken()));
    let mut f = Fixture::new();
    let bad = f.badly_signed();
    let mut n = 0u32;
    group.bench_function("bad_signature_new_address", |b| {
        b.iter_custom(|iters| {
            if limits.tracked_addresses() > 50_000 {
                limits = Arc::new(Limits::new(kraken()));
            }
            let inputs: Vec<IpAddr> = (0..iters)
                .map(|_| {
                    address({
                        n = n.wrapping_add(1);
                        n
                    })
                })
                .collect();
            timed(iters, inputs, |ip| gate(&limits, &f, &bad, KEY, *ip), |r| *r == Err(KrakenError::InvalidSignature), "bad_signature")
        })
    });

    // A request from a locked-out address: refused before the key is looked at.
    let limits = Arc::new(Limits::new(kraken()));
    let mut f = Fixture::new();
    let locked = address(7);
    for _ in 0..kraken().lockout_after {
        limits.auth_failed(locked, f.clock.now_us());
    }
    let bad = f.badly_signed();
    assert_eq!(gate(&limits, &f, &bad, "NOSUCHKEY", locked), Err(KrakenError::TemporaryLockout));
    group.bench_function("locked_out", |b| b.iter(|| gate(&limits, &f, black_box(&bad), "NOSUCHKEY", locked)));

    // A bad key from a new address when the address table is at its bound (Kraken's 100,000,
    // every entry an address with a recent failure): each new address displaces one.
    /// `count` addresses never seen before (from 2.0.0.0 upwards, continuing from `n`).
    fn fresh_addresses(n: &mut u32, count: u64) -> Vec<IpAddr> {
        (0..count)
            .map(|_| {
                *n = n.wrapping_add(1);
                address(2 << 24 | *n)
            })
            .collect()
    }
    let limits = Arc::new(Limits::new(kraken()));
    let f = Fixture::new();
    let cap = kraken().max_tracked_addresses as u32;
    let now = f.clock.now_us();
    for i in 0..cap {
        limits.auth_failed(address(1 << 24 | i), now);
    }
    assert_eq!(limits.tracked_addresses(), cap as usize);
    let mut n = 0u32;
    group.bench_function("bad_key_new_address_table_full", |b| {
        b.iter_custom(|iters| {
            let inputs = fresh_addresses(&mut n, iters);
            timed(iters, inputs, |ip| gate(&limits, &f, &bad, "NOSUCHKEY", *ip), |r| *r == Err(KrakenError::InvalidKey), "bad_key")
        })
    });
    assert!(limits.tracked_addresses() <= cap as usize);

    // Public calls: one address that is always allowed, one over Kraken's limit, new addresses
    // into a full table.
    let limits = Limits::new(never_refusing(true));
    group.bench_function("check_public", |b| b.iter(|| limits.check_public(CLIENT, clock.now_us())));
    let limits = Limits::new(kraken());
    while limits.check_public(CLIENT, clock.now_us()).is_ok() {}
    group.bench_function("check_public_refused", |b| b.iter(|| limits.check_public(CLIENT, clock.now_us())));
    let limits = Limits::new(kraken());
    let now = clock.now_us();
    for i in 0..cap {
        limits.check_public(address(1 << 24 | i), now).unwrap();
    }
    let mut n = 0u32;
    group.bench_function("check_public_new_address_table_full", |b| {
        b.iter_custom(|iters| {
            let inputs = fresh_addresses(&mut n, iters);
            timed(iters, inputs, |ip| limits.check_public(*ip, clock.now_us()), |r| r.is_ok(), "check_public_new")
        })
    });

    // The housekeeping the server runs once a minute under the address table's lock: a sweep
    // of a full table (100,000 addresses with recent failures, none of which it may drop).
    let limits = Limits::new(kraken());
    let now = clock.now_us();
    for i in 0..cap {
        limits.auth_failed(address(1 << 24 | i), now);
    }
    group.sample_size(20);
    group.bench_function("sweep_full_table", |b| b.iter(|| limits.sweep(clock.now_us())));
    assert_eq!(limits.tracked_addresses(), cap as usize);
    group.sample_size(100);

    // The baseline again, last: the VM's speed drifts, and the two bracket every other row.
    let mut f = Fixture::new();
    let one = f.signed(1).pop().unwrap();
    group.bench_function("hmac_verify_again", |b| {
        b.iter(|| auth::verify(PATH, black_box(&one.nonce), black_box(one.body.as_bytes()), &f.secret, black_box(&one.sign)))
    });
    group.finish();
}

/// Where criterion writes a row's latest estimates (as criterion chooses its directory, less the
/// `cargo metadata` fallback: `cargo bench` runs from the package root).
fn estimates_file(id: &str) -> std::path::PathBuf {
    let home = std::env::var_os("CRITERION_HOME").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "target".into()).join("criterion")
    });
    home.join(GROUP).join(id).join("new/estimates.json")
}

/// Criterion's estimate for one row measured in this run (and its 95% interval, in ns).
fn estimate(id: &str, since: std::time::SystemTime) -> Option<(f64, f64, f64)> {
    let file = estimates_file(id);
    if !std::fs::metadata(&file).and_then(|m| m.modified()).is_ok_and(|t| t >= since) {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    // The figure criterion prints as `time:` (the slope of its linear sampling), else the mean.
    let m = if v["slope"].is_object() { &v["slope"] } else { &v["mean"] };
    Some((
        m["point_estimate"].as_f64()?,
        m["confidence_interval"]["lower_bound"].as_f64()?,
        m["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}

fn summary(started: std::time::SystemTime) {
    let rows = [
        ("hmac_verify", "baseline: auth::verify of a Balance body"),
        ("authenticate", "auth::authenticate, valid request"),
        ("limiter_only", "check_lockout + auth_succeeded + enter + charge_rest"),
        ("gate", "whole gate, accepted (counters never refuse)"),
        ("gate_rate_limited", "whole gate, Kraken figures, EAPI:Rate limit exceeded"),
        ("bad_signature_new_address", "bad signature, new address (HMAC + auth_failed)"),
        ("locked_out", "any request from a locked-out address"),
        ("bad_key_new_address_table_full", "bad key, new address, table at 100,000"),
        ("check_public", "check_public, allowed"),
        ("check_public_refused", "check_public, EGeneral:Too many requests"),
        ("check_public_new_address_table_full", "check_public, new address, table at 100,000"),
        ("sweep_full_table", "sweep of a full table (once a minute, under the lock)"),
        ("hmac_verify_again", "baseline again, measured last"),
    ];
    let (Some((first, ..)), Some((last, ..))) = (estimate("hmac_verify", started), estimate("hmac_verify_again", started)) else {
        eprintln!("summary: the hmac_verify baselines were not both measured in this run");
        return;
    };
    let base = (first + last) / 2.0;
    println!("\nsummary (criterion's estimates, this run; ratio = time / one bare HMAC-SHA512 verify, the mean of");
    println!("the baseline measured first ({first:.0} ns) and last ({last:.0} ns))");
    println!("| path | ns per request (95% CI) | × HMAC verify |");
    println!("|---|---:|---:|");
    for (id, what) in rows {
        if let Some((mean, lo, hi)) = estimate(id, started) {
            println!("| {what} (`{id}`) | {mean:.0} ({lo:.0}–{hi:.0}) | {:.2} |", mean / base);
        }
    }
    if let (Some((gate, ..)), Some((auth, ..))) = (estimate("gate", started), estimate("authenticate", started)) {
        println!(
            "\nwhole gate = {:.2} µs = {:.2} × a bare HMAC verify; limiter's share: gate − authenticate = {:.0} ns ({:.0}% of the gate)",
            gate / 1000.0,
            gate / base,
            gate - auth,
            100.0 * (gate - auth) / gate
        );
        if let Some((alone, ..)) = estimate("limiter_only", started) {
            println!(
                "limiter measured alone = {alone:.0} ns = {:.2} × a bare HMAC verify ({:.0}% of the gate)",
                alone / base,
                100.0 * alone / gate
            );
        }
    }
}

/// The gate's share beside `authenticate` is a difference of two ~2 µs figures, and criterion
/// measures rows one after the other while this VM's speed drifts by more than that difference.
/// So the three are also measured interleaved: rounds of verify, authenticate and the gate in
/// turn (the order rotating), and the median of each over the rounds.
fn interleaved() {
    const ROUNDS: usize = 31;
    const N: u64 = 5_000;
    let limits = Arc::new(Limits::new(never_refusing(false)));
    let (mut fv, mut fa, mut fg) = (Fixture::new(), Fixture::new(), Fixture::new());
    let one = fv.signed(1).pop().unwrap();
    let mut times: [Vec<f64>; 3] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..3 {
            let which = (round + k) % 3;
            let per = |d: Duration| d.as_nanos() as f64 / N as f64;
            times[which].push(match which {
                0 => {
                    let inputs: Vec<&Signed> = (0..N).map(|_| &one).collect();
                    per(timed(N, inputs, |s| auth::verify(PATH, &s.nonce, s.body.as_bytes(), &fv.secret, &s.sign), |r| *r, "verify"))
                }
                1 => {
                    let inputs = fa.signed(N);
                    let now = (fa.clock.now_us() / 1_000_000) as i64;
                    let auth = |s: &Signed| auth::authenticate(&fa.registry, &request(s, KEY, CLIENT, now)).map(|k| k.id);
                    per(timed(N, inputs, auth, |r| r.is_ok(), "authenticate"))
                }
                _ => {
                    let inputs = fg.signed(N);
                    per(timed(N, inputs, |s| gate(&limits, &fg, s, KEY, CLIENT), |r| r.is_ok(), "gate"))
                }
            });
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let [v, a, g] = times.each_mut().map(median);
    println!(
        "\ninterleaved ({ROUNDS} rounds × {N} requests, medians): verify {v:.0} ns, authenticate {a:.0} ns ({:.2}×), gate {g:.0} ns ({:.2}×); \
         limiter's share = gate − authenticate = {:.0} ns ({:.0}% of the gate)",
        a / v,
        g / v,
        g - a,
        100.0 * (g - a) / g
    );
}

fn main() {
    let started = std::time::SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    summary(started);
    // Only on a full run (`cargo bench --bench limits`), not with a filter or `--test`.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.is_empty() {
        interleaved();
    }
}
