//! The exchange as a deterministic state machine. [`Exchange::apply`] takes one command with
//! its timestamp and either changes the state completely or not at all (every check happens
//! before the first change). No I/O, no clock, no randomness: the sequencer stamps time, storage
//! logs the commands, and replaying the log rebuilds the exact state.
//!
//! Invariants (checked by [`Exchange::check_invariants`] in tests):
//! - for every asset, the balances of all accounts, `@external` and `@fees` included, sum to 0;
//! - an account's hold of an asset equals the `hold_remaining` of its open orders in that asset
//!   plus its withdrawals still `Initial` (amount and fee), and never exceeds its balance;
//! - every book level's volume equals the volume the open orders resting there show (all that
//!   remains, or an iceberg's shown part: more than 0, at most its display volume and what remains);
//! - a book's kept best bid and ask are its levels' ends (`Book::check_best`);
//! - a book's queues hold exactly its open, unarmed orders, each once, at their side and price
//!   (a cancel unlinks at once: no tombstones), and a level's count is its queue's length;
//! - every timer is live: each open GTD order has its expiry, each pending order its start,
//!   each armed dead man's switch its trigger, and nothing else is queued;
//! - a fill never happens at a price worse than either order's limit;
//! - an untriggered ("armed") order is on no book and in exactly one place of the trigger
//!   index, not yet reached by its reference price (see `triggers`).

pub mod account;
pub mod amend;
mod amend_stop;
mod batch;
pub mod book;
mod digest;
pub mod events;
pub mod funding;
pub mod history;
pub mod ids;
mod invariants;
pub mod ladder;
mod levels;
pub mod market_data;
pub mod markets;
mod matching;
pub mod open_orders;
pub mod order;
pub mod order_flags;
pub mod orders;
pub mod outbox;
mod queue;
mod record;
mod seq_index;
mod state_form;
pub mod status;
pub mod timers;
pub mod trailing;
pub mod triggers;
pub mod walk;
pub use batch::{MAX_BATCH, MAX_CANCEL_BATCH, MIN_BATCH};
pub use matching::{MAX_PRICE, MAX_VOLUME};

use crate::error::KrakenError;
use account::{Account, LedgerEntry, LedgerKind, RefId, EXTERNAL, FEES, FIRST_USER};
use book::Book;
use ids::{IdCodec, IdKind};
use market_data::{MarketData, DAY_NS};
use markets::{AssetIdx, Markets, PairIdx};
use order::{AccountId, CancelReason, NewOrder, Order, OrderSeq, Status};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Everything that changes the exchange. Logged as is; replayed in order.
///
/// `repr(u8)`: an explicit one-byte tag, read by one load. Without it the tag was a niche in
/// a 128-bit field of a variant, and telling a command's kind (`apply`'s dispatch, and the drop
/// of every command) took a 128-bit compare and a select first. The logged form is serde's and
/// does not depend on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Command {
    CreateAccount {
        name: String,
    },
    Deposit {
        account: AccountId,
        asset: AssetIdx,
        amount: i128,
    },
    PlaceOrder(NewOrder),
    Cancel {
        account: AccountId,
        target: CancelTarget,
    },
    CancelAll {
        account: AccountId,
    },
    /// A market maker's whole ladder on one pair, and the pair's index price (see `ladder`).
    Requote(ladder::Requote),
    /// A generated history for a pair that has no trades since its last history (see `history`).
    History {
        pair: PairIdx,
        params: history::HistoryParams,
    },
    /// An imported history (Kraken's CSV files), under the same condition.
    Import {
        pair: PairIdx,
        rows: history::ImportRows,
    },
    /// A deposit seen on the chain on one of the account's addresses (`calamari chain deposit`).
    ChainDeposit {
        owner: funding::addresses::AddressOwner,
        amount: i128,
    },
    /// DepositAddresses with `new=true`.
    NewDepositAddress {
        account: AccountId,
        asset: AssetIdx,
        method: u8,
    },
    /// The operator adds or replaces an address-book entry (Kraken's withdrawal key).
    SetWithdrawKey {
        account: AccountId,
        key: String,
        asset: AssetIdx,
        method: u8,
        address: String,
        tag: Option<String>,
        verified: bool,
    },
    RemoveWithdrawKey {
        account: AccountId,
        key: String,
    },
    Withdraw(funding::WithdrawRequest),
    WithdrawCancel {
        account: AccountId,
        asset: AssetIdx,
        refid: u64,
    },
    /// The operator makes a deposit or withdrawal fail (`calamari chain fail`).
    FailFunding {
        refid: u64,
    },
    /// An operator's correction (`calamari adjust`); the reason is kept in the log.
    Adjust {
        account: AccountId,
        asset: AssetIdx,
        amount: i128,
        reason: String,
    },
    /// Applies everything due at the envelope's time: funding transitions (see
    /// `engine::funding`), order expiries and starts, dead man's switches (see `engine::timers`).
    Tick,
    /// CancelAllOrdersAfter: arms, re-arms or (0) disarms the account's dead man's switch.
    CancelAllAfter {
        account: AccountId,
        timeout_s: u64,
    },
    /// AddOrderBatch: 2 to 15 orders of one account on one pair, placed in order (see `batch`).
    PlaceBatch(Vec<NewOrder>),
    /// AmendOrder: an open order changed in place (see `amend`).
    Amend(amend::AmendRequest),
    /// EditOrder: cancel `target` and place `new` instead, or neither (see `batch`).
    Edit {
        account: AccountId,
        target: OrderSeq,
        new: NewOrder,
    },
    /// CancelOrderBatch: every open order the targets name (see `batch`).
    CancelBatch {
        account: AccountId,
        targets: Vec<CancelTarget>,
    },
    /// The operator sets the whole market's state (`pair` None) or a pair's (see `status`).
    SetMarketStatus {
        pair: Option<PairIdx>,
        status: status::MarketStatus,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelTarget {
    Order(OrderSeq),
    UserRef(i32),
    ClOrdId(String),
}

/// A command with its inputs from outside the state machine: the time and, for signed API
/// calls, the key and nonce that authorised it (so a replay restores nonces too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub time_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_nonce: Option<(i64, u64)>,
    pub command: Command,
}

/// What an applied command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    AccountCreated(AccountId),
    Deposited {
        ledger: u64,
        /// The entry's reference (the ledger itself is no longer in the engine: `outbox`).
        refid: RefId,
    },
    OrderPlaced(OrderSeq),
    Canceled(u32),
    Requoted,
    /// A history was loaded: how many public trades it holds.
    HistoryLoaded(usize),
    AddressIssued(u16),
    /// A deposit or withdrawal (its funding id).
    Funding(u64),
    Ticked(u32),
    Done,
    /// Per order of a batch, its sequence or why the engine refused it.
    Batch(Vec<Result<OrderSeq, KrakenError>>),
    /// An amend, by its sequence in the amend id space.
    Amended(u64),
    /// An edit: the new order.
    Edited {
        order: OrderSeq,
    },
}

/// Serialized by hand (`state_form`: the books through the orders), read by the derive.
#[derive(Deserialize)]
pub struct Exchange {
    pub markets: Markets,
    pub ids: IdCodec,
    pub accounts: Vec<Account>,
    account_names: HashMap<String, AccountId>,
    /// The orders not final, by sequence, and the sequence counter (`orders`).
    pub orders: orders::Orders,
    pub books: Vec<Book>,
    pub market_data: Vec<MarketData>,
    /// The next trade and ledger sequence numbers and the running hash of every record made
    /// (see `outbox`).
    pub history: outbox::HistoryCounters,
    /// Records made since the sequencer last drained them: not state (see `outbox`).
    #[serde(skip)]
    pub history_out: outbox::HistoryOut,
    /// Orders closed by the command being applied, emitted into the outbox as they stand at its
    /// end (`outbox`): not state, empty between commands.
    #[serde(skip)]
    closing: Vec<OrderSeq>,
    next_funding: u64,
    pub funding: funding::FundingState,
    next_public_trade: Vec<u64>,
    /// Per pair, the reference ("index") price: the pair's reference price until a market
    /// maker's `Requote` states another. Deterministic (it comes from logged commands).
    pub index: Vec<u64>,
    /// Order expiries, scheduled starts and dead man's switches (see `timers`).
    pub timers: timers::Timers,
    /// Time of the last applied command.
    pub now_ns: u64,
    /// Armed stop orders by trigger price, pending reference moves and closes (`triggers`).
    pub triggers: triggers::Triggers,
    next_amend: u64,
    /// The system's and each pair's market state (`status`).
    pub market_status: status::MarketStates,
    /// This batch's amends, iceberg refills and restatements of watched accounts: not state,
    /// drained by the private capture (see `events`).
    pub order_events: events::OrderEvents,
}

impl Exchange {
    pub fn new(markets: Markets, seed: u64) -> Exchange {
        let n_assets = markets.assets.len();
        let accounts = vec![Account::new("@external".into(), n_assets), Account::new("@fees".into(), n_assets)];
        let mut account_names = HashMap::new();
        account_names.insert("@external".to_string(), EXTERNAL);
        account_names.insert("@fees".to_string(), FEES);
        let n_pairs = markets.pairs.len();
        let books = markets.pairs.iter().map(|_| Book::default()).collect();
        let market_data = markets.pairs.iter().map(|p| MarketData::new(p.reference_price, p.open_price)).collect();
        let next_public_trade = vec![1; markets.pairs.len()];
        let index = markets.pairs.iter().map(|p| p.reference_price).collect();
        let triggers = triggers::Triggers::new(markets.pairs.len());
        Exchange {
            markets,
            ids: IdCodec::new(seed),
            accounts,
            account_names,
            orders: orders::Orders::default(),
            books,
            market_data,
            history: outbox::HistoryCounters::default(),
            history_out: outbox::HistoryOut::default(),
            closing: Vec::new(),
            next_funding: 1,
            funding: funding::FundingState::default(),
            next_public_trade,
            index,
            timers: timers::Timers::default(),
            now_ns: 0,
            triggers,
            next_amend: 1,
            market_status: status::MarketStates::new(n_pairs),
            order_events: events::OrderEvents::default(),
        }
    }

    /// Applies one command: all of it, or (on error) nothing.
    pub fn apply(&mut self, env: &Envelope) -> Result<Applied, KrakenError> {
        let t = self.now_ns.max(env.time_ns);
        let result = match &env.command {
            Command::CreateAccount { name } => self.create_account(name),
            Command::Deposit { account, asset, amount } => self.deposit(*account, *asset, *amount, t),
            Command::PlaceOrder(req) => self.place_order(req, t),
            Command::Cancel { account, target } => self.cancel(*account, target, t),
            Command::CancelAll { account } => self.cancel_all(*account, t),
            Command::Requote(q) => self.requote(q, t),
            Command::History { pair, params } => self.load_history(*pair, Some(params), None),
            Command::Import { pair, rows } => self.load_history(*pair, None, Some(rows)),
            Command::ChainDeposit { owner, amount } => self.chain_deposit(*owner, *amount, t),
            Command::NewDepositAddress { account, asset, method } => self.new_deposit_address(*account, *asset, *method),
            Command::SetWithdrawKey { account, key, asset, method, address, tag, verified } => {
                let entry =
                    funding::BookEntry { asset: *asset, method: *method, address: address.clone(), tag: tag.clone(), verified: *verified };
                self.set_withdraw_key(*account, key, entry)
            }
            Command::RemoveWithdrawKey { account, key } => self.remove_withdraw_key(*account, key),
            Command::Withdraw(req) => self.withdraw(req, t),
            Command::WithdrawCancel { account, asset, refid } => self.withdraw_cancel(*account, *asset, *refid, t),
            Command::FailFunding { refid } => self.fail_funding(*refid, t),
            Command::Adjust { account, asset, amount, reason: _ } => self.adjust(*account, *asset, *amount, t),
            Command::Tick => self.tick(t),
            Command::CancelAllAfter { account, timeout_s } => self.cancel_all_after(*account, *timeout_s, t),
            Command::PlaceBatch(orders) => self.place_batch(orders, t),
            Command::Amend(r) => self.amend(r, t),
            Command::Edit { account, target, new } => self.edit(*account, *target, new, t),
            Command::CancelBatch { account, targets } => self.cancel_batch(*account, targets, t),
            Command::SetMarketStatus { pair, status } => self.set_market_status(*pair, *status),
        };
        if result.is_ok() {
            self.now_ns = t;
            // Stops reached by this command's trades or index moves, and due closes (none after
            // most commands: the call, its loop and its buffer skipped then).
            if self.triggers.pending() {
                self.run_triggers(t);
            }
        }
        self.emit_closed();
        result
    }

    /// Emits the orders this command closed (once each, in the order they closed) and takes
    /// them out of the engine: from here on they are only in the history tables.
    /// The record is moved from the orders' arena straight into the outbox (one copy,
    /// `Orders::move_out`) and folded there. `closing` is walked by index and cleared in place
    /// (its buffer kept; most commands close an order): no `take`, `Drain` or drop of a swapped
    /// vector per command.
    fn emit_closed(&mut self) {
        for i in 0..self.closing.len() {
            let seq = self.closing[i];
            let out = &mut self.history_out.closed_orders;
            if self.orders.move_out(seq, self.history.next_closed, out) {
                self.history.closed(out.last().expect("just emitted"));
            }
        }
        self.closing.clear();
    }

    /// Replaces a pair's history (generated or imported) while it has no live trade.
    fn load_history(
        &mut self,
        pair: PairIdx,
        generated: Option<&history::HistoryParams>,
        imported: Option<&history::ImportRows>,
    ) -> Result<Applied, KrakenError> {
        let p = self.markets.pairs.get(pair as usize).ok_or(KrakenError::UnknownAssetPair)?;
        if self.market_data[pair as usize].has_live_trades() {
            return Err(KrakenError::invalid("pair"));
        }
        let (trades, candles) = match (generated, imported) {
            (Some(params), _) => {
                if params.trade_every_ms == 0 || params.trade_size <= 0 || params.trade_size > MAX_VOLUME / 1_000 {
                    return Err(KrakenError::invalid("history"));
                }
                let (t, c) = history::generate(p, pair, params);
                (Some(t), c.into_iter().map(Some).collect())
            }
            (None, Some(rows)) => {
                history::check_import(rows)?;
                history::from_import(rows)
            }
            (None, None) => return Err(KrakenError::invalid("history")),
        };
        let md = &mut self.market_data[pair as usize];
        md.set_history(trades, candles);
        let n = md.trades.len();
        self.triggers.note(pair, order::Trigger::Last, md.last_price);
        self.next_public_trade[pair as usize] = n as u64 + 1;
        Ok(Applied::HistoryLoaded(n))
    }

    pub fn account_by_name(&self, name: &str) -> Option<AccountId> {
        self.account_names.get(name).copied()
    }

    /// A user account (not a system one) that exists.
    pub fn user_account(&self, id: AccountId) -> Result<&Account, KrakenError> {
        if id < FIRST_USER {
            return Err(KrakenError::PermissionDenied);
        }
        // Not `ok_or`: its error, built for every call, was dropped by a call to the error's drop
        // glue where LLVM did not inline it (every cancel).
        match self.accounts.get(id as usize) {
            Some(a) => Ok(a),
            None => Err(KrakenError::PermissionDenied),
        }
    }

    fn create_account(&mut self, name: &str) -> Result<Applied, KrakenError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
            && !name.starts_with('@');
        if !valid || self.account_names.contains_key(name) {
            return Err(KrakenError::invalid("name"));
        }
        let id = self.accounts.len() as AccountId;
        self.accounts.push(Account::new(name.to_string(), self.markets.assets.len()));
        self.account_names.insert(name.to_string(), id);
        Ok(Applied::AccountCreated(id))
    }

    fn deposit(&mut self, account: AccountId, asset: AssetIdx, amount: i128, t: u64) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        if asset as usize >= self.markets.assets.len() {
            return Err(KrakenError::FundingUnknownAsset);
        }
        if amount <= 0 || amount > crate::money::MAX_UNITS {
            return Err(KrakenError::FundingInvalidAmount);
        }
        let refid = RefId::Funding(self.next_funding);
        self.next_funding += 1;
        let ledger = self.post(account, asset, amount, 0, LedgerKind::Deposit, refid, t);
        self.post(EXTERNAL, asset, -amount, 0, LedgerKind::Deposit, refid, t);
        Ok(Applied::Deposited { ledger, refid })
    }

    /// Moves a balance by `amount - fee` and writes the ledger entry; returns its sequence.
    #[allow(clippy::too_many_arguments)] // the entry's fields, by value on the fill's hot path
    pub(crate) fn post(
        &mut self,
        account: AccountId,
        asset: AssetIdx,
        amount: i128,
        fee: i128,
        kind: LedgerKind,
        refid: RefId,
        t: u64,
    ) -> u64 {
        let acct = &mut self.accounts[account as usize];
        acct.funds[asset as usize].balance += amount - fee;
        let seq = self.history.next_ledger;
        let balance = acct.funds[asset as usize].balance;
        let entry = LedgerEntry { seq, account, refid, time_ns: t, kind, asset, amount, fee, balance };
        self.history.ledger(&entry);
        self.history_out.ledger.push(entry);
        seq
    }

    /// How many open orders `account` has in `pair`.
    pub fn open_orders_in_pair(&self, account: AccountId, pair: PairIdx) -> usize {
        self.user_account(account).map_or(0, |a| a.open_orders.iter().filter(|s| self.orders[**s as usize].req.pair == pair).count())
    }

    /// The account's orders on `pair` waiting for their `starttm` (status `pending`).
    pub fn scheduled_orders_in_pair(&self, account: AccountId, pair: PairIdx) -> usize {
        self.user_account(account).map_or(0, |a| {
            a.open_orders
                .iter()
                .filter(|s| self.orders[**s as usize].req.pair == pair && self.orders[**s as usize].status == Status::Pending)
                .count()
        })
    }

    /// Takes a resting order off its book and ends it as canceled.
    fn cancel_resting(&mut self, seq: OrderSeq, reason: CancelReason, t: u64) {
        self.end_order(seq, Status::Canceled, Some(reason), t);
    }

    /// Ends an open or pending order before it filled: off its book (a pending order is not in
    /// one), hold released, filed with `status`. The order is looked up by sequence once: the
    /// book and `finish_at` are given its slot (every cancel comes here).
    pub(crate) fn end_order(&mut self, seq: OrderSeq, status: Status, reason: Option<CancelReason>, t: u64) {
        self.end_order_at(self.held_slot(seq), status, reason, t);
    }

    /// [`Exchange::end_order`] of the order in `slot` (a caller that has it: a cancel by txid).
    pub(crate) fn end_order_at(&mut self, slot: u32, status: Status, reason: Option<CancelReason>, t: u64) {
        let o = self.orders.at(slot);
        let seq = o.seq;
        debug_assert!(o.is_open());
        let (pair, side, price, in_book) = (o.req.pair, o.req.side, o.req.price, o.book_volume());
        // An order that is not armed (most: no trigger) is in its book: `disarm`, which looks
        // the order up again by sequence, only for one that is.
        if o.status == Status::Open && !(o.is_armed() && self.disarm(seq)) {
            self.books[pair as usize].remove_at(side, price, &mut self.orders, slot, in_book, t);
        }
        self.finish_in(slot, status, reason, t);
        self.note_spread(pair, t);
    }

    /// The slot of an order that must be held (as `orders[seq]` panics otherwise).
    fn held_slot(&self, seq: OrderSeq) -> u32 {
        self.orders.slot(seq).unwrap_or_else(|| panic!("order {seq} is not held"))
    }

    /// Ends an order: releases what is left of its hold and files it as closed or canceled.
    fn finish(&mut self, seq: OrderSeq, status: Status, reason: Option<CancelReason>, t: u64) {
        self.finish_at(self.held_slot(seq), status, reason, t);
    }

    /// [`Exchange::finish`] of the order in `slot`: the record is read and changed there (its
    /// timers, the account and the triggers read it too; no lookup by sequence).
    ///
    /// An order without extras (most) has no timer, no shown part and no conditional close, so
    /// the three rare-part steps are skipped together after one test.
    #[inline(never)]
    pub(super) fn finish_at(&mut self, slot: u32, status: Status, reason: Option<CancelReason>, t: u64) {
        self.finish_in(slot, status, reason, t);
    }

    /// The body of [`Exchange::finish_at`], inlined into `end_order_at` (every cancel: the call
    /// and its register saves were a tenth of it) and called through `finish_at` elsewhere.
    #[inline(always)]
    fn finish_in(&mut self, slot: u32, status: Status, reason: Option<CancelReason>, t: u64) {
        let o = self.orders.at_mut(slot);
        let seq = o.seq;
        let rare = o.extras().is_some();
        if rare {
            self.timers.disarm_order(o);
        }
        o.status = status;
        o.reason = reason;
        o.close_ns = t;
        if rare {
            o.set_shown(0);
        }
        let (account, asset, release) = (o.req.account, o.hold_asset, o.hold_remaining());
        o.set_hold_remaining(0);
        if rare {
            self.triggers.note_close(o);
        }
        let acct = &mut self.accounts[account as usize];
        acct.funds[asset as usize].hold -= release;
        acct.open_orders.remove(&seq);
        self.closing.push(seq);
    }

    /// Notes the pair's top of book in its spread history if it moved (after every order placed
    /// or ended): the book knows the top it last noted (`Book::top_to_note`), so an unchanged
    /// top (most calls) costs a compare there; a moved one is compared with the history's last
    /// entry as before (after a restore the book has noted nothing yet). Always inlined: a
    /// call cost a third of it.
    #[inline(always)]
    fn note_spread(&mut self, pair: PairIdx, t: u64) {
        if let Some((bid, ask)) = self.books[pair as usize].top_to_note() {
            self.market_data[pair as usize].record_spread(t, bid, ask);
        }
    }

    /// Current fee rate (ppm) for an account as maker or taker, from its 30-day volume.
    pub fn fee_ppm(&self, account: AccountId, maker: bool, t: u64) -> i128 {
        let schedule = if maker { &self.markets.maker_fees } else { &self.markets.taker_fees };
        let volume = self.accounts[account as usize].volume_30d(t / DAY_NS);
        let decimals = self.markets.asset(self.markets.fee_volume_asset).decimals;
        schedule[Markets::tier(schedule, volume, decimals)].ppm
    }

    pub fn order_txid(&self, seq: OrderSeq) -> String {
        self.ids.encode(IdKind::Order, seq)
    }

    /// An open (or pending) order by its sequence; a closed one is in the history tables.
    pub fn open_order(&self, seq: OrderSeq) -> Option<&Order> {
        self.orders.get(seq as usize).filter(|o| o.is_open())
    }

    /// An order as the commands applied since the outbox was last drained left it: in the engine
    /// if it is not final, else in the outbox (for the answer to the command that closed it).
    pub fn order_or_emitted(&self, seq: OrderSeq) -> Option<&Order> {
        self.orders.get(seq as usize).or_else(|| self.history_out.closed_orders.iter().rev().find(|c| c.order.seq == seq).map(|c| &c.order))
    }
}
