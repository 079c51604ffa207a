//! Memory per resting order (BENCHMARKS.md §1, "RSS per resting order"): 1,000,000 limit orders
//! (`RESTING_ORDERS`) that never cross, spread over every built-in pair by 1,000 funded
//! accounts, placed through `Exchange::apply` as the server places them. Prints the process's
//! resident memory before and after and the difference per order, and the time per placement.
//! `cargo bench --bench resting`.

use calamari::config::Config;
use calamari::engine::account::FIRST_USER;
use calamari::engine::markets::Markets;
use calamari::engine::order::{NewOrder, Side};
use calamari::engine::{Applied, Command, Envelope, Exchange};
use std::time::Instant;

const ACCOUNTS: u32 = 1_000;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    calamari::allocator::configure();
    let n: u64 = std::env::var("RESTING_ORDERS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let markets = Markets::from_config(&Config::builtin()).unwrap();
    let pairs: Vec<(u64, i128)> = markets.pairs.iter().map(|p| (p.reference_price, p.ordermin.max(p.lot_step()))).collect();
    let n_assets = markets.assets.len() as u16;
    let mut ex = Exchange::new(markets, 7);
    let mut t = 1_750_000_000_000_000_000u64;
    let mut apply = |ex: &mut Exchange, command: Command| {
        t += 1_000;
        ex.apply(&Envelope { time_ns: t, key_nonce: None, command })
    };
    for i in 0..ACCOUNTS {
        apply(&mut ex, Command::CreateAccount { name: format!("rss{i}") }).unwrap();
        for asset in 0..n_assets {
            apply(&mut ex, Command::Deposit { account: FIRST_USER + i, asset, amount: calamari::money::MAX_UNITS }).unwrap();
        }
    }
    let before = rss_kb();
    let started = Instant::now();
    for i in 0..n {
        let pair = (i % pairs.len() as u64) as usize;
        let (reference, volume) = pairs[pair];
        let side = if (i / pairs.len() as u64).is_multiple_of(2) { Side::Buy } else { Side::Sell };
        // 1,000 levels a side, a gap of 1,000 ticks around the reference: nothing crosses.
        let away = 1_000 + (i / 2 / pairs.len() as u64) % 1_000;
        let price = match side {
            Side::Buy => reference.saturating_sub(away).max(1),
            Side::Sell => reference + away,
        };
        let account = FIRST_USER + (i % ACCOUNTS as u64) as u32;
        let r = apply(&mut ex, Command::PlaceOrder(NewOrder::limit(account, pair as u16, side, price, volume)));
        assert!(matches!(r, Ok(Applied::OrderPlaced(_))), "order {i}: {r:?}");
    }
    let secs = started.elapsed().as_secs_f64();
    let placed = rss_kb();
    // The buffers that grew (the order slab, the levels) by moving left their old copies free;
    // configured as the server is, the allocator returns them at once (`allocator`); a forced
    // collection shows whether anything freed was still held (both figures are printed).
    calamari::allocator::release_freed_memory();
    let after = rss_kb();
    let resting: usize = ex.books.iter().map(|b| b.total_live()).sum();
    assert_eq!(resting as u64, n, "every order rests");
    println!(
        "{n} resting orders on {} pairs: RSS {:.1} MB before, {:.1} MB after ({:.1} MB before the allocator's purge), {:.0} bytes per resting order; {:.2} s to place ({:.0} ns each)",
        pairs.len(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        placed as f64 / 1024.0,
        (after - before) as f64 * 1024.0 / n as f64,
        secs,
        secs * 1e9 / n as f64
    );
    use calamari::engine::order::{Order, OrderExtras, OrderReq};
    use std::mem::size_of;
    println!(
        "an order record is {} bytes (its request's hot part {}), one per order not final (closed ones leave the engine); \
         the rare parts ({} bytes: client order id, relative prices, close, iceberg, expiry/start, trigger state, parent) \
         are allocated only for an order that has one (none here); the rest is the books' levels, the orders' slab index \
         and the accounts' open-order lists",
        size_of::<Order>(),
        size_of::<OrderReq>(),
        size_of::<OrderExtras>()
    );
}
