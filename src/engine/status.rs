//! Market states, as Kraken's operators set them: the whole market's (`SystemStatus`: online,
//! maintenance, cancel_only, post_only) and each pair's (`status` in AssetPairs: online,
//! cancel_only, post_only, limit_only, reduce_only, maintenance). They are engine state changed
//! by a logged command (`SetMarketStatus`), so a restart or a replay comes back in the same
//! state, and every order and cancel is checked against them inside the engine, the simulated
//! market's included (its re-quotes and takers are refused like anyone's: it pauses).
//!
//! What each state allows (the system's state and the pair's both apply):
//! - `online`: everything;
//! - `post_only`: new orders only as post-only limit orders (`EService:Market in post_only mode`);
//! - `limit_only`: no market orders (`EService:Market in limit_only mode`);
//! - `reduce_only`: no new spot order (nothing here reduces a margin position;
//!   `EService:Market in reduce_only mode`);
//! - `cancel_only`: cancels only (`EService:Market in cancel_only mode`);
//! - `maintenance`: nothing, cancels included (`EService:Unavailable`).
//!
//! The same checks run again where an accepted order meets the market later: a scheduled order
//! at its start (as the order it is) and a stop when it fires (as the market or limit order it
//! becomes). Refused there, it is canceled with the state as its `reason` ("Market in
//! cancel_only mode", …), its hold released. `validate=true` is answered with the state's error
//! too (the API layer asks `admit_new_order` before answering).

use super::markets::PairIdx;
use super::order::{NewOrder, OrderKind};
use super::{Applied, Exchange};
use crate::error::KrakenError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarketStatus {
    Online,
    Maintenance,
    CancelOnly,
    PostOnly,
    LimitOnly,
    ReduceOnly,
}

impl MarketStatus {
    pub const ALL: [MarketStatus; 6] = [
        MarketStatus::Online,
        MarketStatus::Maintenance,
        MarketStatus::CancelOnly,
        MarketStatus::PostOnly,
        MarketStatus::LimitOnly,
        MarketStatus::ReduceOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MarketStatus::Online => "online",
            MarketStatus::Maintenance => "maintenance",
            MarketStatus::CancelOnly => "cancel_only",
            MarketStatus::PostOnly => "post_only",
            MarketStatus::LimitOnly => "limit_only",
            MarketStatus::ReduceOnly => "reduce_only",
        }
    }

    pub fn parse(text: &str) -> Option<MarketStatus> {
        MarketStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The states SystemStatus can report (Kraken's list for the whole market).
    pub fn is_system_state(self) -> bool {
        matches!(self, MarketStatus::Online | MarketStatus::Maintenance | MarketStatus::CancelOnly | MarketStatus::PostOnly)
    }

    /// Whether a new order of `kind` may enter in this state.
    fn admits(self, kind: OrderKind, post_only: bool) -> Result<(), KrakenError> {
        match self {
            MarketStatus::Online => Ok(()),
            MarketStatus::Maintenance => Err(KrakenError::Unavailable),
            MarketStatus::CancelOnly => Err(KrakenError::MarketCancelOnly),
            MarketStatus::ReduceOnly => Err(KrakenError::MarketReduceOnly),
            MarketStatus::PostOnly if kind != OrderKind::Limit || !post_only => Err(KrakenError::MarketPostOnly),
            MarketStatus::LimitOnly if kind == OrderKind::Market => Err(KrakenError::MarketLimitOnly),
            MarketStatus::PostOnly | MarketStatus::LimitOnly => Ok(()),
        }
    }

    /// The `reason` of an order canceled at its start or its trigger because of this state: the
    /// state's own error text without its category.
    pub fn cancel_reason(self) -> &'static str {
        match self {
            MarketStatus::Online => "Online",
            MarketStatus::Maintenance => "Unavailable",
            MarketStatus::CancelOnly => "Market in cancel_only mode",
            MarketStatus::PostOnly => "Market in post_only mode",
            MarketStatus::LimitOnly => "Market in limit_only mode",
            MarketStatus::ReduceOnly => "Market in reduce_only mode",
        }
    }
}

/// The whole market's state and each pair's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MarketStates {
    pub system: MarketStatus,
    pub pairs: Vec<MarketStatus>,
}

impl MarketStates {
    pub fn new(pairs: usize) -> MarketStates {
        MarketStates { system: MarketStatus::Online, pairs: vec![MarketStatus::Online; pairs] }
    }
}

impl Exchange {
    /// `SetMarketStatus`: the system's state (`pair` None; one of its four) or a pair's.
    pub(super) fn set_market_status(&mut self, pair: Option<PairIdx>, status: MarketStatus) -> Result<Applied, KrakenError> {
        match pair {
            None if status.is_system_state() => self.market_status.system = status,
            None => return Err(KrakenError::invalid("status")),
            Some(p) => *self.market_status.pairs.get_mut(p as usize).ok_or(KrakenError::UnknownAssetPair)? = status,
        }
        Ok(Applied::Done)
    }

    /// The pair's own state (AssetPairs' `status`).
    pub fn pair_status(&self, pair: PairIdx) -> MarketStatus {
        self.market_status.pairs.get(pair as usize).copied().unwrap_or(MarketStatus::Online)
    }

    /// Whether a new order may enter its pair now: the system's state, then the pair's.
    pub fn admit_new_order(&self, req: &NewOrder) -> Result<(), KrakenError> {
        self.market_status.system.admits(req.kind, req.post_only)?;
        self.pair_status(req.pair).admits(req.kind, req.post_only)
    }

    /// Re-checked where an accepted order enters the market later: at its scheduled start (as
    /// the order it is) and when a stop fires (as the market or limit order it becomes). The
    /// state that refuses it, if any, for `CancelReason::Market`.
    pub(super) fn refusing_state(&self, req: &NewOrder, fired: bool) -> Option<MarketStatus> {
        let (kind, post_only) = match (fired, req.kind.is_market()) {
            (false, _) => (req.kind, req.post_only),
            (true, true) => (OrderKind::Market, false),
            (true, false) => (OrderKind::Limit, false),
        };
        [self.market_status.system, self.pair_status(req.pair)].into_iter().find(|s| s.admits(kind, post_only).is_err())
    }

    /// Whether orders of `pair` may be canceled now (everywhere but in maintenance).
    pub fn admit_cancel(&self, pair: PairIdx) -> Result<(), KrakenError> {
        if self.market_status.system == MarketStatus::Maintenance || self.pair_status(pair) == MarketStatus::Maintenance {
            return Err(KrakenError::Unavailable);
        }
        Ok(())
    }

    /// Whether a market maker may re-quote `pair`: its ladder is limit orders that may take, so
    /// only when the market is online or limit_only.
    pub fn admit_requote(&self, pair: PairIdx) -> Result<(), KrakenError> {
        for s in [self.market_status.system, self.pair_status(pair)] {
            match s {
                MarketStatus::Online | MarketStatus::LimitOnly => {}
                MarketStatus::Maintenance => return Err(KrakenError::Unavailable),
                MarketStatus::CancelOnly => return Err(KrakenError::MarketCancelOnly),
                MarketStatus::PostOnly => return Err(KrakenError::MarketPostOnly),
                MarketStatus::ReduceOnly => return Err(KrakenError::MarketReduceOnly),
            }
        }
        Ok(())
    }
}
