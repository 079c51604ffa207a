//! The storage fault model, run over many seeds. The REAL [`Sequencer`] (engine thread, storage
//! thread, group commit) runs over [`FaultyLog`], a `CommandLog` whose "disk" keeps what was
//! synced and loses what was only written when the simulated process crashes. Concurrent clients
//! send random orders, cancels and deposits; at a random append the fault strikes:
//!
//! * `CrashBeforeWrite`: the process dies between two batches (nothing of the batch written);
//! * `CrashMidBatch`: it dies after writing some of the batch's records, before the sync;
//! * `SyncFails`: the sync reports failure; a random prefix of the batch may have reached the
//!   disk anyway (a failed fsync leaves the data's fate unknown);
//! * `CrashAfterSync`: the batch is durable but the process dies before releasing the replies.
//!
//! Then the test "restarts": it replays what the disk kept with the server's own replay
//! (`recovery::replay`) and asserts that every acknowledged command is in the recovered state
//! (orders with the exact request, cancels took effect, deposits once under their refid), that
//! nothing appears that was neither synced nor in the failed batch, that the invariants and
//! conservation hold, and that the recovered state equals a second replay of the durable records
//! and the state a restarted sequencer serves. Each seed lives through several crashes on one
//! disk. `FAULT_SEEDS` (default 200) sets the number of seeds, `FAULT_SEED` runs one.
//!
//! The sequencer runs with `OnStorageFailure::StopAcknowledging` (the server aborts instead);
//! both release a reply only after `append` returned `Ok`.

use calamari::config::Config;
use calamari::engine::account::{LedgerKind, RefId, EXTERNAL, FEES, FIRST_USER};
use calamari::engine::markets::{AssetIdx, Markets};
use calamari::engine::order::{AccountId, NewOrder, OrderSeq, Side, Status};
use calamari::engine::{Applied, CancelTarget, Command, Exchange};
use calamari::error::KrakenError;
use calamari::recovery;
use calamari::sequencer::{OnStorageFailure, Sequencer};
use calamari::storage::{CommandLog, ReplayFn, StorageError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};

const ID_SEED: u64 = 0x5eed;
const CLIENTS: usize = 4;
const LIVES: usize = 3;
const OPS_PER_CLIENT: usize = 80;

/// The simulated disk of one data directory.
#[derive(Default)]
struct Disk {
    /// Survives a crash.
    durable: Vec<Vec<u8>>,
    /// Written, not yet synced: lost on a crash.
    unsynced: Vec<Vec<u8>>,
    /// Records of the failed batch that reached the disk although the sync failed.
    survived_failed_sync: usize,
    crashed: bool,
    /// Set if anything was appended after a failed append (the sequencer must stop).
    appended_after_crash: bool,
}

impl Disk {
    fn sync(&mut self) {
        self.durable.append(&mut self.unsynced);
    }
    fn crash(&mut self) {
        self.unsynced.clear();
        self.crashed = true;
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    CrashBeforeWrite,
    CrashMidBatch,
    SyncFails,
    CrashAfterSync,
}

/// A command log over the simulated disk that fails on its `fault_at`-th append.
struct FaultyLog {
    disk: Arc<Mutex<Disk>>,
    appends: u32,
    fault_at: Option<(u32, Fault)>,
    rng: StdRng,
}

impl CommandLog for FaultyLog {
    fn append(&mut self, records: &[Vec<u8>]) -> Result<(), StorageError> {
        let mut d = self.disk.lock().unwrap();
        if d.crashed {
            d.appended_after_crash = true;
            return Err(StorageError::Backend("the process is dead".into()));
        }
        self.appends += 1;
        let fault = match self.fault_at {
            Some((at, f)) if at == self.appends => f,
            _ => {
                d.unsynced.extend(records.iter().cloned());
                d.sync();
                return Ok(());
            }
        };
        match fault {
            Fault::CrashBeforeWrite => {}
            Fault::CrashMidBatch => {
                let k = self.rng.gen_range(0..=records.len());
                d.unsynced.extend(records[..k].iter().cloned());
            }
            Fault::SyncFails => {
                let k = self.rng.gen_range(0..=records.len());
                d.durable.extend(records[..k].iter().cloned());
                d.survived_failed_sync = k;
                d.unsynced.extend(records[k..].iter().cloned());
            }
            Fault::CrashAfterSync => {
                d.unsynced.extend(records.iter().cloned());
                d.sync();
            }
        }
        d.crash();
        Err(StorageError::Backend(format!("simulated {fault:?}")))
    }

    fn replay(&mut self, f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
        let records = self.disk.lock().unwrap().durable.clone();
        for (i, r) in records.iter().enumerate() {
            f(i as u64 + 1, r).map_err(StorageError::Replay)?;
        }
        Ok(())
    }
}

/// What the clients were told, over all lives of one seed.
#[derive(Default)]
struct Acks {
    orders: Vec<(OrderSeq, NewOrder)>,
    cancels: Vec<OrderSeq>,
    deposits: Vec<(RefId, AccountId, AssetIdx, i128)>,
    /// Commands whose answer never came (the crash): each may or may not be durable.
    unknown_orders: usize,
    unknown_deposits: usize,
    refused: usize,
}

enum Sent {
    Place(NewOrder),
    Cancel(OrderSeq),
    Deposit(AssetIdx, i128),
}

fn markets() -> Markets {
    Markets::from_config(&Config::builtin()).unwrap()
}

fn recover(disk: &Arc<Mutex<Disk>>) -> recovery::Recovered {
    let mut log = FaultyLog { disk: disk.clone(), appends: 0, fault_at: None, rng: StdRng::seed_from_u64(0) };
    recovery::replay(&mut log, markets(), ID_SEED).unwrap_or_else(|e| panic!("the durable log does not replay: {e}"))
}

/// One client: random commands against its own account until the sequencer stops answering.
async fn client(seq: Sequencer, account: AccountId, mut rng: StdRng, mut open: Vec<OrderSeq>, acks: Arc<Mutex<Acks>>) {
    let m = markets();
    let pair = m.pair_by_name("XBTUSD").unwrap();
    let p = m.pair(pair).clone();
    for _ in 0..OPS_PER_CLIENT {
        let roll = rng.gen_range(0..100);
        let sent = if roll < 45 || (roll < 75 && open.is_empty()) {
            let side = if rng.gen_bool(0.5) { Side::Buy } else { Side::Sell };
            let price = (p.reference_price as i64 + rng.gen_range(-40i64..=40) * p.tick as i64) as u64;
            Sent::Place(NewOrder::limit(account, pair, side, price, p.ordermin + rng.gen_range(0..400) * p.lot_step()))
        } else if roll < 75 {
            Sent::Cancel(open.swap_remove(rng.gen_range(0..open.len())))
        } else if roll < 90 {
            let asset = if rng.gen_bool(0.5) { p.quote } else { p.base };
            Sent::Deposit(asset, rng.gen_range(1..5_000_000_000i128))
        } else {
            Sent::Cancel(rng.gen_range(0..200)) // often someone else's or unknown: refused
        };
        let command = match &sent {
            Sent::Place(o) => Command::PlaceOrder(o.clone()),
            Sent::Cancel(s) => Command::Cancel { account, target: CancelTarget::Order(*s) },
            Sent::Deposit(asset, amount) => Command::Deposit { account, asset: *asset, amount: *amount },
        };
        let reply = seq
            .execute(None, command, |_ex, applied| {
                let refid = match applied {
                    Applied::Deposited { refid, .. } => Some(*refid),
                    _ => None,
                };
                (applied.clone(), refid)
            })
            .await;
        let mut a = acks.lock().unwrap();
        match (reply, sent) {
            (Ok((Applied::OrderPlaced(s), _)), Sent::Place(o)) => {
                a.orders.push((s, o));
                open.push(s);
            }
            (Ok((Applied::Canceled(_), _)), Sent::Cancel(s)) => a.cancels.push(s),
            (Ok((Applied::Deposited { .. }, Some(r))), Sent::Deposit(asset, amount)) => a.deposits.push((r, account, asset, amount)),
            (Ok(other), _) => panic!("unexpected reply {other:?}"),
            (Err(KrakenError::Unavailable), sent) => {
                match sent {
                    Sent::Place(_) => a.unknown_orders += 1,
                    Sent::Deposit(..) => a.unknown_deposits += 1,
                    Sent::Cancel(_) => {}
                }
                return; // the process "died"
            }
            (Err(_), _) => a.refused += 1,
        }
    }
}

/// Everything that must hold of a state recovered from the disk.
fn check_recovered(seed: u64, life: usize, r: &recovery::Recovered, disk: &Disk, acks: &Acks, previous_durable: &[Vec<u8>]) {
    let ctx = format!("seed {seed} life {life}");
    let ex = &r.exchange;
    assert_eq!(r.records as usize, disk.durable.len(), "{ctx}: not every durable record replayed");
    assert!(disk.durable.starts_with(previous_durable), "{ctx}: records durable before this life were changed");
    assert!(disk.unsynced.is_empty(), "{ctx}: unsynced data survived the crash");
    assert!(!disk.appended_after_crash, "{ctx}: the sequencer kept appending after a failed append");
    if let Err(e) = ex.check_invariants() {
        panic!("{ctx}: invariant broken after recovery: {e}");
    }
    for (s, req) in &acks.orders {
        let o = ex.order_or_emitted(*s).unwrap_or_else(|| panic!("{ctx}: acknowledged order {s} missing"));
        assert_eq!(&o.new_order(), req, "{ctx}: order {s} is not the acknowledged request");
    }
    for s in &acks.cancels {
        assert_eq!(ex.order_or_emitted(*s).map(|o| o.status), Some(Status::Canceled), "{ctx}: acknowledged cancel of {s} not in effect");
    }
    for (refid, account, asset, amount) in &acks.deposits {
        let entries: Vec<_> = ex.history_out.ledger.iter().filter(|e| e.refid == *refid && e.account == *account).collect();
        assert_eq!(entries.len(), 1, "{ctx}: acknowledged deposit {refid:?} appears {} times", entries.len());
        assert_eq!((entries[0].asset, entries[0].amount), (*asset, *amount), "{ctx}: deposit {refid:?} differs");
    }
    // Nothing beyond the acknowledged and the unanswered: no duplicate, nothing invented.
    assert!(ex.orders.next_seq() as usize <= acks.orders.len() + acks.unknown_orders, "{ctx}: more orders than were sent");
    let user_deposits = ex.history_out.ledger.iter().filter(|e| e.kind == LedgerKind::Deposit && e.account >= FIRST_USER).count();
    assert!(user_deposits >= acks.deposits.len(), "{ctx}: deposits lost");
    assert!(user_deposits <= acks.deposits.len() + acks.unknown_deposits + CLIENTS * 2, "{ctx}: more deposits than were sent");
    // Conservation in integers: per asset, deposits = Σ user balances + fees collected.
    for a in 0..ex.markets.assets.len() {
        let deposited: i128 = ex
            .history_out
            .ledger
            .iter()
            .filter(|e| e.kind == LedgerKind::Deposit && e.account >= FIRST_USER && e.asset as usize == a)
            .map(|e| e.amount)
            .sum();
        let held: i128 = ex.accounts[FIRST_USER as usize..].iter().map(|acct| acct.funds[a].balance).sum();
        assert_eq!(deposited, held + ex.accounts[FEES as usize].funds[a].balance, "{ctx}: asset {a} not conserved");
        assert_eq!(-ex.accounts[EXTERNAL as usize].funds[a].balance, deposited, "{ctx}: asset {a}: @external is not minus the deposits");
    }
}

fn run_seed(rt: &tokio::runtime::Runtime, seed: u64, by_kind: &mut [usize; 4]) -> (usize, usize, usize, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let disk = Arc::new(Mutex::new(Disk::default()));
    let acks = Arc::new(Mutex::new(Acks::default()));
    // Life 0, no fault: the clients' accounts and opening balances, then a graceful stop.
    {
        let log = FaultyLog { disk: disk.clone(), appends: 0, fault_at: None, rng: StdRng::seed_from_u64(seed) };
        let seq = Sequencer::start_with(Exchange::new(markets(), ID_SEED), Box::new(log), 64, OnStorageFailure::StopAcknowledging);
        rt.block_on(async {
            for c in 0..CLIENTS {
                seq.execute(None, Command::CreateAccount { name: format!("c{c}") }, |_, _| ()).await.unwrap();
                for (asset, amount) in [(0 as AssetIdx, 1_000_000_000i128), (1, 5_000_000_000)] {
                    let account = FIRST_USER + c as AccountId;
                    seq.execute(None, Command::Deposit { account, asset, amount }, |_, _| ()).await.unwrap();
                }
            }
        });
        seq.stop();
    }
    let mut crashes = 0;
    for life in 1..=LIVES {
        let recovered = recover(&disk);
        let previous = {
            let mut d = disk.lock().unwrap();
            d.crashed = false;
            d.survived_failed_sync = 0;
            d.durable.clone()
        };
        let fault = match rng.gen_range(0..4) {
            0 => Fault::CrashBeforeWrite,
            1 => Fault::CrashMidBatch,
            2 => Fault::SyncFails,
            _ => Fault::CrashAfterSync,
        };
        // Sometimes the fault never comes (the clients finish first): then a graceful stop.
        let fault_at = rng.gen_range(1..=60);
        let log = FaultyLog { disk: disk.clone(), appends: 0, fault_at: Some((fault_at, fault)), rng: StdRng::seed_from_u64(rng.gen()) };
        let opens: Vec<Vec<OrderSeq>> =
            (0..CLIENTS).map(|c| recovered.exchange.accounts[FIRST_USER as usize + c].open_orders.iter().copied().collect()).collect();
        let max_batch = rng.gen_range(1..=64);
        let seq = Sequencer::start_with(recovered.exchange, Box::new(log), max_batch, OnStorageFailure::StopAcknowledging);
        let client_seeds: Vec<u64> = (0..CLIENTS).map(|_| rng.gen()).collect();
        rt.block_on(async {
            let tasks: Vec<_> = opens
                .into_iter()
                .enumerate()
                .map(|(c, open)| {
                    let account = FIRST_USER + c as AccountId;
                    tokio::spawn(client(seq.clone(), account, StdRng::seed_from_u64(client_seeds[c]), open, acks.clone()))
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let failed = seq.stats.storage_failed.load(std::sync::atomic::Ordering::SeqCst);
        seq.stop();
        drop(seq);
        crashes += failed as usize;
        if failed {
            by_kind[fault as usize] += 1;
        }
        let after = recover(&disk);
        let d = disk.lock().unwrap();
        let a = acks.lock().unwrap();
        check_recovered(seed, life, &after, &d, &a, &previous);
        drop((d, a));
        // The state equals a replay of the durable records: twice the same, and as served by a
        // sequencer started on it.
        let again = recover(&disk);
        assert_eq!(after.exchange.digest(), again.exchange.digest(), "seed {seed} life {life}: replay is not deterministic");
        let digest = after.exchange.digest();
        let replay_log =
            FaultyLog { disk: Arc::new(Mutex::new(Disk::default())), appends: 0, fault_at: None, rng: StdRng::seed_from_u64(0) };
        let served = Sequencer::start_with(after.exchange, Box::new(replay_log), 8, OnStorageFailure::StopAcknowledging);
        let live = rt.block_on(served.read(|ex| ex.digest())).unwrap();
        served.stop();
        assert_eq!(live, digest, "seed {seed} life {life}: restarted state differs from the replay");
    }
    let a = acks.lock().unwrap();
    (crashes, a.orders.len(), a.cancels.len(), a.deposits.len())
}

#[test]
fn acknowledged_means_durable_under_storage_faults() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let seeds: Vec<u64> = match std::env::var("FAULT_SEED") {
        Ok(s) => vec![s.parse().expect("FAULT_SEED is a number")],
        Err(_) => {
            let n: u64 = std::env::var("FAULT_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
            (0..n).collect()
        }
    };
    let started = std::time::Instant::now();
    let (mut crashes, mut orders, mut cancels, mut deposits) = (0, 0, 0, 0);
    let mut by_kind = [0usize; 4];
    for seed in &seeds {
        let (c, o, x, d) = run_seed(&rt, *seed, &mut by_kind);
        crashes += c;
        orders += o;
        cancels += x;
        deposits += d;
    }
    eprintln!(
        "storage faults: {} seeds x {LIVES} lives, {crashes} simulated crashes (before write, mid-batch, failed sync, after sync: \
         {by_kind:?}); acknowledged {orders} orders, {cancels} cancels, \
         {deposits} deposits, all recovered; {:.1} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(crashes * 2 > seeds.len() * LIVES, "too few lives ended in a fault to mean anything: {crashes}");
}

/// A history store whose rows cannot be written.
struct HistoryFails;

impl calamari::storage::HistoryStore for HistoryFails {
    fn flush(&mut self, _: &[calamari::engine::outbox::HistoryOut], _: u64) -> Result<(), StorageError> {
        Err(StorageError::Backend("simulated: the history rows could not be written".into()))
    }
    fn replace(&mut self, _: &calamari::engine::outbox::HistoryOut, _: u64, _: u64) -> Result<(), StorageError> {
        Err(StorageError::Backend("simulated: the history rows could not be replaced".into()))
    }
}

/// A log whose records are kept.
struct Kept(Vec<Vec<u8>>);

impl CommandLog for Kept {
    fn append(&mut self, records: &[Vec<u8>]) -> Result<(), StorageError> {
        self.0.extend(records.iter().cloned());
        Ok(())
    }
    fn replay(&mut self, f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
        for (i, r) in self.0.iter().enumerate() {
            f(i as u64 + 1, r).map_err(StorageError::Replay)?;
        }
        Ok(())
    }
}

/// The history rows are written after the acknowledgement, by their own thread
/// (`sequencer::history_writer`); a failed flush is a storage failure like a failed commit:
/// nothing is acknowledged once it is known (the batch whose rows failed was durable already),
/// the sequencer says it stopped, and a reader waiting for the failed rows gets an error.
#[test]
fn a_failed_history_flush_stops_acknowledging() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let seq = Sequencer::start_clocked(
        Exchange::new(markets(), ID_SEED),
        (Box::new(Kept(Vec::new())), Box::new(HistoryFails)),
        64,
        OnStorageFailure::StopAcknowledging,
        None,
    );
    // Flush as soon as one row waits: the deposit's ledger entries.
    seq.stats.history_mark.flush_rows.store(1, std::sync::atomic::Ordering::Relaxed);
    assert!(seq.serving());
    rt.block_on(async {
        let _ = seq.execute(None, Command::CreateAccount { name: "c0".into() }, |_, _| ()).await;
        let deposit = Command::Deposit { account: FIRST_USER, asset: 0, amount: 1_000 };
        // Acknowledged or not, depending on whether the history thread failed before the reply.
        let acknowledged = seq.execute(None, deposit.clone(), |_, _| ()).await.is_ok();
        let waited = std::time::Instant::now();
        while !seq.stats.storage_failed.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(waited.elapsed().as_secs() < 30, "the history thread's failure is never reported");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if acknowledged {
            assert!(seq.stats.history_mark.wait_current().is_err(), "a reader of the failed rows gets an error");
        }
        let r = seq.execute(None, deposit, |_, _| ()).await;
        assert!(matches!(r, Err(KrakenError::Unavailable)), "nothing after the failure is acknowledged");
        assert!(!seq.serving(), "the sequencer says it stopped");
    });
    seq.stop();
}
