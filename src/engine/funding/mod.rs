//! Funding: deposit addresses, deposits that arrive from the chain and wait for confirmations,
//! withdrawals to the account's address book with holds and Kraken's status transitions, cancels,
//! failures and operator adjustments. All of it is engine state, changed only by logged commands.
//!
//! Time: a record's next transition has a due time (a deposit's last confirmation; a withdrawal's
//! processing, broadcast and last confirmation). `Command::Tick` applies every transition due at
//! its time, in (due time, record) order. The sequencer logs a `Tick` before the first job it
//! runs at or after the earliest due time (see `Exchange::due`), so a replay of the log
//! makes the same transitions at the same times: time is an input here as everywhere else.
//!
//! Statuses are Kraken's (support.kraken.com "Advanced API FAQ" and the DepositStatus /
//! WithdrawStatus reference): a deposit is `Settled` (seen, waiting for confirmations), then
//! `Success` (credited) or `Failure`; a withdrawal is `Initial` (held; cancellable), `Pending`
//! (processing: the hold becomes the `withdrawal` ledger debit), `Settled` (broadcast), `Success`,
//! or `Failure` (`status-prop` `canceled` when the user canceled it).

pub mod addresses;
pub mod methods;
mod withdraw;

pub use withdraw::WithdrawRequest;

use super::account::{LedgerKind, RefId, EXTERNAL};
use super::markets::AssetIdx;
use super::order::AccountId;
use super::{Applied, Exchange};
use crate::error::KrakenError;
use addresses::AddressOwner;
use std::collections::{BTreeMap, BTreeSet};

/// At most this many deposit addresses per account, asset and method (`EFunding:Too many addresses`).
pub const MAX_ADDRESSES: u16 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    Initial,
    Pending,
    Settled,
    Success,
    Failure,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Initial => "Initial",
            Status::Pending => "Pending",
            Status::Settled => "Settled",
            Status::Success => "Success",
            Status::Failure => "Failure",
        }
    }
}

/// A record's funding id (the number behind its `refid`).
pub type FundingId = u64;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Deposit {
    pub id: FundingId,
    pub owner: AddressOwner,
    pub amount: i128,
    pub time_ns: u64,
    /// When the last confirmation arrives (the credit).
    pub confirm_ns: u64,
    pub status: Status,
    /// The `deposit` ledger entry, once credited.
    pub ledger: Option<u64>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Withdrawal {
    pub id: FundingId,
    pub account: AccountId,
    pub asset: AssetIdx,
    pub method: u8,
    pub key: String,
    pub address: String,
    pub tag: Option<String>,
    /// What the recipient gets; the account pays `amount + fee`.
    pub amount: i128,
    pub fee: i128,
    /// `amount + fee` valued in the fee-volume asset (USD) at request time, for the limits.
    pub usd_value: i128,
    pub time_ns: u64,
    pub status: Status,
    /// Kraken's `status-prop` (`canceled`).
    #[serde(with = "crate::storage::checkpoint::static_text")]
    pub prop: Option<crate::storage::checkpoint::StaticStr>,
    /// When the next transition is due (none once final).
    pub due_ns: Option<u64>,
    pub broadcast_after_ns: u64,
    pub confirm_after_ns: u64,
}

impl Withdrawal {
    /// What the account has on hold for it (only while `Initial`).
    pub fn held(&self) -> i128 {
        if self.status == Status::Initial {
            self.amount + self.fee
        } else {
            0
        }
    }
    /// Whether the account's balance has been debited (and not refunded).
    pub fn debited(&self) -> bool {
        matches!(self.status, Status::Pending | Status::Settled | Status::Success)
    }
}

/// An address-book entry (Kraken's withdrawal key).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BookEntry {
    pub asset: AssetIdx,
    pub method: u8,
    pub address: String,
    pub tag: Option<String>,
    /// Verified in advance (Kraken: confirmed by e-mail); only verified entries can be used.
    pub verified: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum FundingRef {
    Deposit(u32),
    Withdrawal(u32),
}

/// The funding part of the exchange's state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FundingState {
    pub deposits: Vec<Deposit>,
    pub withdrawals: Vec<Withdrawal>,
    /// Funding id -> record.
    pub by_id: BTreeMap<FundingId, FundingRef>,
    /// Per account, its deposits and withdrawals (indexes), oldest first.
    pub account_deposits: BTreeMap<AccountId, Vec<u32>>,
    pub account_withdrawals: BTreeMap<AccountId, Vec<u32>>,
    /// (account, asset, method) -> addresses issued beyond the first (index 0 always exists).
    pub extra_addresses: BTreeMap<(AccountId, AssetIdx, u8), u16>,
    /// (account, key name) -> address-book entry.
    pub address_book: BTreeMap<(AccountId, String), BookEntry>,
    /// Transitions waiting for their time.
    pub due: BTreeSet<(u64, FundingRef)>,
}

impl Exchange {
    /// The funding method `method` of `asset`, if it has one.
    pub fn funding_method(&self, asset: AssetIdx, method: u8) -> Option<methods::Method> {
        let a = self.markets.assets.get(asset as usize)?;
        methods::methods(&a.id).get(method as usize).copied()
    }

    pub(super) fn new_funding_id(&mut self) -> FundingId {
        let id = self.next_funding;
        self.next_funding += 1;
        id
    }

    pub(super) fn new_deposit_address(&mut self, account: AccountId, asset: AssetIdx, method: u8) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        self.funding_method(asset, method).ok_or(KrakenError::FundingNoMethod)?;
        let issued = self.funding.extra_addresses.get(&(account, asset, method)).copied().unwrap_or(0);
        if issued + 1 >= MAX_ADDRESSES {
            return Err(KrakenError::FundingTooManyAddresses);
        }
        self.funding.extra_addresses.insert((account, asset, method), issued + 1);
        Ok(Applied::AddressIssued(issued + 1))
    }

    /// How many addresses `account` has for `asset`/`method` (at least one).
    pub fn deposit_address_count(&self, account: AccountId, asset: AssetIdx, method: u8) -> u16 {
        1 + self.funding.extra_addresses.get(&(account, asset, method)).copied().unwrap_or(0)
    }

    /// A deposit seen on the chain on one of the exchange's addresses: `Settled` until its
    /// method's confirmations have passed, then credited by a `Tick`.
    pub(super) fn chain_deposit(&mut self, owner: AddressOwner, amount: i128, t: u64) -> Result<Applied, KrakenError> {
        self.user_account(owner.account)?;
        let method = self.funding_method(owner.asset, owner.method).ok_or(KrakenError::FundingNoMethod)?;
        if owner.index >= self.deposit_address_count(owner.account, owner.asset, owner.method) {
            return Err(KrakenError::invalid("address"));
        }
        let min = crate::money::parse_units(method.deposit_min, self.markets.asset(owner.asset).decimals).unwrap_or(0);
        if amount < min.max(1) || amount > crate::money::MAX_UNITS {
            return Err(KrakenError::FundingInvalidAmount);
        }
        let id = self.new_funding_id();
        let idx = self.funding.deposits.len() as u32;
        let confirm_ns = t.saturating_add(method.confirm_ns());
        self.funding.deposits.push(Deposit { id, owner, amount, time_ns: t, confirm_ns, status: Status::Settled, ledger: None });
        self.funding.by_id.insert(id, FundingRef::Deposit(idx));
        self.funding.account_deposits.entry(owner.account).or_default().push(idx);
        self.funding.due.insert((confirm_ns, FundingRef::Deposit(idx)));
        Ok(Applied::Funding(id))
    }

    /// Applies the earliest due funding transition (the Tick's funding part, see `timers`).
    pub(in crate::engine) fn funding_step(&mut self) {
        let (due, r) = self.funding.due.pop_first().expect("a funding transition is due");
        match r {
            FundingRef::Deposit(i) => self.credit_deposit(i as usize, due),
            FundingRef::Withdrawal(i) => self.advance_withdrawal(i as usize, due),
        }
    }

    fn credit_deposit(&mut self, i: usize, t: u64) {
        let d = &self.funding.deposits[i];
        let (account, asset, amount, refid) = (d.owner.account, d.owner.asset, d.amount, RefId::Funding(d.id));
        let ledger = self.post(account, asset, amount, 0, LedgerKind::Deposit, refid, t);
        self.post(EXTERNAL, asset, -amount, 0, LedgerKind::Deposit, refid, t);
        let d = &mut self.funding.deposits[i];
        d.status = Status::Success;
        d.ledger = Some(ledger);
    }

    /// The operator's rehearsal of a failure (`calamari chain fail REFID`): a deposit not yet
    /// credited is never credited; a withdrawal not yet successful fails, its hold released or its
    /// debit refunded.
    pub(super) fn fail_funding(&mut self, id: FundingId, t: u64) -> Result<Applied, KrakenError> {
        match self.funding.by_id.get(&id).copied() {
            Some(FundingRef::Deposit(i)) if self.funding.deposits[i as usize].status == Status::Settled => {
                let d = &mut self.funding.deposits[i as usize];
                d.status = Status::Failure;
                let confirm = d.confirm_ns;
                self.funding.due.remove(&(confirm, FundingRef::Deposit(i)));
                Ok(Applied::Funding(id))
            }
            Some(FundingRef::Withdrawal(i))
                if matches!(self.funding.withdrawals[i as usize].status, Status::Initial | Status::Pending | Status::Settled) =>
            {
                self.end_withdrawal(i as usize, None, t);
                Ok(Applied::Funding(id))
            }
            _ => Err(KrakenError::FundingUnknownReference),
        }
    }

    /// An operator's correction (`calamari adjust`): an `adjustment` ledger entry against
    /// `@external`. A debit may not take the account below what it has on hold.
    pub(super) fn adjust(&mut self, account: AccountId, asset: AssetIdx, amount: i128, t: u64) -> Result<Applied, KrakenError> {
        let acct = self.user_account(account)?;
        if asset as usize >= self.markets.assets.len() {
            return Err(KrakenError::FundingUnknownAsset);
        }
        if amount == 0 || amount.abs() > crate::money::MAX_UNITS {
            return Err(KrakenError::FundingInvalidAmount);
        }
        if amount < 0 && acct.available(asset) < -amount {
            return Err(KrakenError::FundingInsufficientFunds);
        }
        let refid = RefId::Funding(self.new_funding_id());
        let ledger = self.post(account, asset, amount, 0, LedgerKind::Adjustment, refid, t);
        self.post(EXTERNAL, asset, -amount, 0, LedgerKind::Adjustment, refid, t);
        Ok(Applied::Deposited { ledger, refid })
    }

    /// What an account has on hold for withdrawals, per asset (the invariant check's view).
    pub(super) fn withdrawal_holds(&self, holds: &mut [Vec<i128>]) {
        for w in &self.funding.withdrawals {
            holds[w.account as usize][w.asset as usize] += w.held();
        }
    }
}
