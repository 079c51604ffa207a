//! Withdrawals: the address book, the request (every check before the hold), the cancel, and the
//! transitions Initial → Pending → Settled → Success (or Failure).
//!
//! Money: Kraken's `amount` is what leaves the account, fee included (WithdrawInfo for 0.725 XBT
//! answers amount 0.72485, fee 0.00015). The request holds that whole amount at once; processing
//! (Initial → Pending) turns the hold into a `withdrawal` ledger entry (amount −net, fee), with
//! the net to `@external` and the fee to `@fees`. A cancel (Initial only) releases the hold; a
//! failure after processing refunds the debit with a second `withdrawal` entry.

use super::{BookEntry, FundingRef, Status, Withdrawal};
use crate::engine::account::{LedgerKind, RefId, EXTERNAL, FEES};
use crate::engine::markets::AssetIdx;
use crate::engine::order::AccountId;
use crate::engine::{Applied, Exchange};
use crate::error::KrakenError;
use crate::money::{div_round_half_up, parse_units};
use serde::{Deserialize, Serialize};

const DAY_NS: u64 = 86_400_000_000_000;
const MONTH_NS: u64 = 30 * DAY_NS;

/// A Withdraw call as the engine sees it. The limits and timings come from the configuration and
/// the account's tier, outside the engine; they travel in the command so that a replay applies
/// the same ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawRequest {
    pub account: AccountId,
    pub asset: AssetIdx,
    pub key: String,
    /// What leaves the account, fee included.
    pub amount: i128,
    pub max_fee: Option<i128>,
    pub address: Option<String>,
    /// The tier's limits in the fee-volume asset's (USD) minimal units.
    pub daily_limit: i128,
    pub monthly_limit: i128,
    pub process_after_s: u32,
    pub broadcast_after_s: u32,
}

impl Exchange {
    pub(in crate::engine) fn set_withdraw_key(&mut self, account: AccountId, key: &str, entry: BookEntry) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        let method = self.funding_method(entry.asset, entry.method).ok_or(KrakenError::FundingNoMethod)?;
        let name_ok = !key.is_empty() && key.len() <= 64 && key.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        let addr_ok = !entry.address.is_empty() && entry.address.len() <= 128 && entry.address.chars().all(|c| c.is_ascii_alphanumeric());
        if !name_ok {
            return Err(KrakenError::invalid("key"));
        }
        if !addr_ok || method.has_tag() != entry.tag.is_some() || entry.tag.as_ref().is_some_and(|t| t.parse::<u32>().is_err()) {
            return Err(KrakenError::invalid("address"));
        }
        self.funding.address_book.insert((account, key.to_string()), entry);
        Ok(Applied::Done)
    }

    pub(in crate::engine) fn remove_withdraw_key(&mut self, account: AccountId, key: &str) -> Result<Applied, KrakenError> {
        self.funding.address_book.remove(&(account, key.to_string())).map(|_| Applied::Done).ok_or(KrakenError::FundingUnknownWithdrawKey)
    }

    /// The fee and the net amount of withdrawing `amount` (fee included) of `asset` to `key`,
    /// checked as Withdraw checks them except the balance and the limits.
    pub fn withdraw_quote(
        &self,
        account: AccountId,
        asset: AssetIdx,
        key: &str,
        amount: i128,
    ) -> Result<(&BookEntry, i128, i128), KrakenError> {
        self.user_account(account)?;
        if asset as usize >= self.markets.assets.len() {
            return Err(KrakenError::FundingUnknownAsset);
        }
        let entry = self.funding.address_book.get(&(account, key.to_string())).filter(|e| e.asset == asset);
        let entry = entry.ok_or(KrakenError::FundingUnknownWithdrawKey)?;
        let method = self.funding_method(asset, entry.method).ok_or(KrakenError::FundingNoMethod)?;
        let decimals = self.markets.asset(asset).decimals;
        let fee = parse_units(method.withdraw_fee, decimals).unwrap_or(0);
        let min = parse_units(method.withdraw_min, decimals).unwrap_or(0);
        if amount <= fee || amount - fee < min || amount > crate::money::MAX_UNITS {
            return Err(KrakenError::FundingInvalidAmount);
        }
        Ok((entry, fee, amount - fee))
    }

    /// `units` of `asset` in the fee-volume asset (USD) at the last price of their pair (0 without one).
    pub fn usd_value(&self, asset: AssetIdx, units: i128) -> i128 {
        let usd = self.markets.fee_volume_asset;
        if asset == usd {
            return units;
        }
        let pair = self.markets.pairs.iter().position(|p| p.base == asset && p.quote == usd);
        pair.map_or(0, |p| {
            let last = self.market_data[p].last_price as i128;
            div_round_half_up(units * last, self.markets.pairs[p].cost_divisor)
        })
    }

    /// USD value of the account's withdrawals (not failed) requested after `since_ns`.
    pub fn withdrawn_usd_since(&self, account: AccountId, since_ns: u64) -> i128 {
        let mine = self.funding.account_withdrawals.get(&account).map_or(&[][..], |v| v.as_slice());
        mine.iter()
            .map(|i| &self.funding.withdrawals[*i as usize])
            .filter(|w| w.time_ns > since_ns && w.status != Status::Failure)
            .map(|w| w.usd_value)
            .sum()
    }

    /// What the account may still withdraw in USD under its limits at `t`.
    pub fn withdraw_headroom(&self, account: AccountId, daily: i128, monthly: i128, t: u64) -> i128 {
        let day = daily - self.withdrawn_usd_since(account, t.saturating_sub(DAY_NS));
        let month = monthly - self.withdrawn_usd_since(account, t.saturating_sub(MONTH_NS));
        day.min(month).max(0)
    }

    pub(in crate::engine) fn withdraw(&mut self, req: &WithdrawRequest, t: u64) -> Result<Applied, KrakenError> {
        let (entry, fee, net) = self.withdraw_quote(req.account, req.asset, &req.key, req.amount)?;
        if !entry.verified {
            return Err(KrakenError::FundingUnknownWithdrawKey);
        }
        if req.address.as_ref().is_some_and(|a| a.trim() != entry.address) {
            return Err(KrakenError::invalid("address"));
        }
        if req.max_fee.is_some_and(|m| fee > m) {
            return Err(KrakenError::FundingMaxFeeExceeded);
        }
        if self.accounts[req.account as usize].available(req.asset) < req.amount {
            return Err(KrakenError::FundingInsufficientFunds);
        }
        let usd_value = self.usd_value(req.asset, req.amount);
        if usd_value > self.withdraw_headroom(req.account, req.daily_limit, req.monthly_limit, t) {
            return Err(KrakenError::FundingInvalidAmount);
        }
        // Checks done: from here on the command applies.
        let (method, address, tag) = (entry.method, entry.address.clone(), entry.tag.clone());
        let id = self.new_funding_id();
        let idx = self.funding.withdrawals.len() as u32;
        let due = t.saturating_add(req.process_after_s as u64 * 1_000_000_000);
        self.funding.withdrawals.push(Withdrawal {
            id,
            account: req.account,
            asset: req.asset,
            method,
            key: req.key.clone(),
            address,
            tag,
            amount: net,
            fee,
            usd_value,
            time_ns: t,
            status: Status::Initial,
            prop: None,
            due_ns: Some(due),
            broadcast_after_ns: req.broadcast_after_s as u64 * 1_000_000_000,
            confirm_after_ns: self.funding_method(req.asset, method).map_or(0, |m| m.confirm_ns()),
        });
        self.accounts[req.account as usize].funds[req.asset as usize].hold += req.amount;
        self.funding.by_id.insert(id, FundingRef::Withdrawal(idx));
        self.funding.account_withdrawals.entry(req.account).or_default().push(idx);
        self.funding.due.insert((due, FundingRef::Withdrawal(idx)));
        Ok(Applied::Funding(id))
    }

    /// WithdrawCancel: only before processing (`Initial`); releases the hold.
    pub(in crate::engine) fn withdraw_cancel(
        &mut self,
        account: AccountId,
        asset: AssetIdx,
        id: u64,
        t: u64,
    ) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        match self.funding.by_id.get(&id).copied() {
            Some(FundingRef::Withdrawal(i)) => {
                let w = &self.funding.withdrawals[i as usize];
                if w.account != account || w.asset != asset || w.status != Status::Initial {
                    return Err(KrakenError::FundingUnknownReference);
                }
                self.end_withdrawal(i as usize, Some("canceled"), t);
                Ok(Applied::Funding(id))
            }
            _ => Err(KrakenError::FundingUnknownReference),
        }
    }

    /// Ends a withdrawal as `Failure`: the hold released (Initial) or the debit refunded.
    pub(super) fn end_withdrawal(&mut self, i: usize, prop: Option<&'static str>, t: u64) {
        let w = &self.funding.withdrawals[i];
        let (account, asset, amount, fee, refid) = (w.account, w.asset, w.amount, w.fee, RefId::Funding(w.id));
        if let Some(due) = w.due_ns {
            self.funding.due.remove(&(due, FundingRef::Withdrawal(i as u32)));
        }
        if w.status == Status::Initial {
            self.accounts[account as usize].funds[asset as usize].hold -= amount + fee;
        } else if w.debited() {
            self.post(account, asset, amount + fee, 0, LedgerKind::Withdrawal, refid, t);
            self.post(EXTERNAL, asset, -amount, 0, LedgerKind::Withdrawal, refid, t);
            self.post(FEES, asset, -fee, 0, LedgerKind::Withdrawal, refid, t);
        }
        let w = &mut self.funding.withdrawals[i];
        w.status = Status::Failure;
        w.prop = prop;
        w.due_ns = None;
    }

    /// The next step of a withdrawal whose time has come.
    pub(super) fn advance_withdrawal(&mut self, i: usize, t: u64) {
        let w = &self.funding.withdrawals[i];
        let (account, asset, amount, fee, refid) = (w.account, w.asset, w.amount, w.fee, RefId::Funding(w.id));
        let next = match w.status {
            Status::Initial => {
                self.accounts[account as usize].funds[asset as usize].hold -= amount + fee;
                self.post(account, asset, -amount, fee, LedgerKind::Withdrawal, refid, t);
                self.post(EXTERNAL, asset, amount, 0, LedgerKind::Withdrawal, refid, t);
                self.post(FEES, asset, fee, 0, LedgerKind::Withdrawal, refid, t);
                Some((Status::Pending, self.funding.withdrawals[i].broadcast_after_ns))
            }
            Status::Pending => Some((Status::Settled, w.confirm_after_ns)),
            Status::Settled => Some((Status::Success, 0)),
            Status::Success | Status::Failure => None,
        };
        let Some((status, wait)) = next else { return };
        let w = &mut self.funding.withdrawals[i];
        w.status = status;
        w.due_ns = (status != Status::Success).then(|| t.saturating_add(wait));
        if let Some(due) = w.due_ns {
            self.funding.due.insert((due, FundingRef::Withdrawal(i as u32)));
        }
    }
}
