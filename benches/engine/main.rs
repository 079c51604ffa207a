//! Engine throughput on one core: a mixed place/move/IOC/cancel stream shaped like
//! exchange-core's benchmark, fed to a plain BTreeMap book (the baseline), Calamari's engine and
//! the crates matchcore and orderbook-rs, in one run. `cargo bench --bench engine`.
//!
//! Before timing, each engine runs the stream once and the run is checked: Calamari's invariants
//! hold (conservation, holds, no fill worse than a limit) and traded volume is printed beside the
//! baseline's so that an engine that skips work shows. `calamari_full_mix` is Calamari on the
//! same stream with 10% of what rests being untriggered stops and trailing stops (re-evaluated on
//! every trade), beside the plain mix in the same run. `ENGINE_BENCH_CHECK_ONLY=1` stops after
//! the checks (see `bench`).

mod baseline;
mod engines;
mod stream;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use engines::{Baseline, Calamari, CalamariFull, Engine, Matchcore, OrderbookRs};
use std::hint::black_box;

const OPS: usize = 200_000;

fn prepared<E: Engine>(s: &stream::Stream) -> E {
    let mut e = E::new(s.ids);
    for op in &s.warmup {
        e.apply(op);
    }
    e
}

fn check_once<E: Engine>(name: &str, s: &stream::Stream) -> E {
    let mut e: E = prepared(s);
    let before = e.traded();
    for op in &s.ops {
        e.apply(op);
    }
    let traded = e.traded().zip(before).map(|(a, b)| a - b);
    eprintln!("{name:>14}: traded in stream {traded:?} lots");
    e
}

fn bench(c: &mut Criterion) {
    let s = stream::generate(OPS, 0x5eed);
    let (moves, cancels, iocs) = s.ops.iter().fold((0, 0, 0), |(m, c, i), op| match op {
        stream::Op::Move { .. } => (m + 1, c, i),
        stream::Op::Cancel { .. } => (m, c + 1, i),
        stream::Op::Place { ioc: true, .. } => (m, c, i + 1),
        _ => (m, c, i),
    });
    eprintln!(
        "stream: {} warm-up places, {} ops ({} moves, {} cancels, {} IOC, {} limit places)",
        s.warmup.len(),
        s.ops.len(),
        moves,
        cancels,
        iocs,
        s.ops.len() - moves - cancels - iocs
    );
    eprintln!("book (orders, levels): {:?} after warm-up, {:?} at the end", s.shape[0], s.shape[1]);
    check_once::<Baseline>("baseline", &s);
    let cal = check_once::<Calamari>("calamari", &s);
    cal.exchange.check_invariants().expect("Calamari's invariants hold after the stream");
    eprintln!("      calamari: {} trades, {} ledger entries", cal.exchange.history.next_trade, cal.exchange.history.next_ledger);
    let full = check_once::<CalamariFull>("calamari full", &s);
    full.0.exchange.check_invariants().expect("Calamari's invariants hold after the full mix");
    let armed = full.0.exchange.orders.iter().filter(|o| o.is_armed()).count();
    assert_eq!(armed, engines::STOPS as usize, "every stop of the full mix stays armed through the stream");
    eprintln!(" calamari full: {armed} untriggered stops re-evaluated on {} trades", full.0.exchange.history.next_trade / 2);
    let mc = check_once::<Matchcore>("matchcore", &s);
    eprintln!("     matchcore: two-level sweep case, (traded, worse fills): {:?}", engines::matchcore_sweep_case());
    eprintln!("     matchcore: fills worse than the taker's limit (GTC, IOC): {:?}", mc.worse_than_limit);
    check_once::<OrderbookRs>("orderbook-rs", &s);
    // ENGINE_BENCH_CHECK_ONLY=1: the checks above and no timing, for an instruction count under
    // `valgrind --tool=callgrind --toggle-collect='*check_once*'` (one pass of the stream per
    // engine; the count does not depend on what else the machine runs).
    if std::env::var_os("ENGINE_BENCH_CHECK_ONLY").is_some() {
        return;
    }

    let mut group = c.benchmark_group("mixed_stream");
    group.throughput(Throughput::Elements(s.ops.len() as u64));
    group.sample_size(10);
    fn timed<E: Engine>(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, name: &str, s: &stream::Stream) {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || prepared::<E>(s),
                |e| {
                    for op in &s.ops {
                        e.apply(black_box(op));
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    timed::<Baseline>(&mut group, "btreemap_baseline", &s);
    timed::<Calamari>(&mut group, "calamari", &s);
    timed::<CalamariFull>(&mut group, "calamari_full_mix", &s);
    timed::<Matchcore>(&mut group, "matchcore", &s);
    timed::<OrderbookRs>(&mut group, "orderbook_rs", &s);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
