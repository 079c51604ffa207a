//! Kraken's error strings, in exactly one place. Every refusal the API can give is a variant of
//! [`KrakenError`]; [`KrakenError::as_kraken`] is the only code that spells the wire text.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KrakenError {
    // EGeneral
    InvalidArguments(Option<String>),
    PermissionDenied,
    UnknownMethod,
    InternalError,
    TooManyRequests,
    TemporaryLockout,
    // EAPI
    InvalidKey,
    InvalidSignature,
    InvalidNonce,
    RateLimitExceeded,
    BadRequest,
    // EQuery
    UnknownAssetPair,
    UnknownAsset,
    // EOrder
    InsufficientFunds,
    OrderMinimumNotMet,
    CostMinimumNotMet,
    TickSizeCheckFailed,
    InvalidPrice(Option<String>),
    InvalidOrder,
    UnknownOrder,
    OrdersLimitExceeded,
    /// Too many orders waiting for their `starttm` on one pair.
    ScheduledOrdersLimitExceeded,
    OrderRateLimitExceeded,
    UnknownPosition,
    /// A margin order on an account not eligible for margin (every Calamari account).
    CannotOpenPosition,
    ReduceOnlyNoPosition,
    // EService
    Unavailable,
    /// The pair or the whole market is in `cancel_only` (`post_only`, `limit_only`,
    /// `reduce_only`) state and the request is not one it allows.
    MarketCancelOnly,
    MarketPostOnly,
    MarketLimitOnly,
    MarketReduceOnly,
    /// The request's `deadline` passed before the engine applied it.
    DeadlineElapsed,
    /// Too many concurrent requests of one key; retry after this unix time.
    Throttled(u64),
    // EFunding
    FundingUnknownAsset,
    FundingInvalidAmount,
    FundingNoMethod,
    FundingUnknownWithdrawKey,
    FundingMaxFeeExceeded,
    FundingInsufficientFunds,
    FundingTooManyAddresses,
    FundingInvalidReference,
    FundingUnknownReference,
}

impl KrakenError {
    /// The exact text Kraken puts in the `error` list.
    pub fn as_kraken(&self) -> String {
        use KrakenError::*;
        match self {
            InvalidArguments(None) => "EGeneral:Invalid arguments".into(),
            InvalidArguments(Some(field)) => format!("EGeneral:Invalid arguments:{field}"),
            PermissionDenied => "EGeneral:Permission denied".into(),
            UnknownMethod => "EGeneral:Unknown method".into(),
            InternalError => "EGeneral:Internal error".into(),
            TooManyRequests => "EGeneral:Too many requests".into(),
            TemporaryLockout => "EGeneral:Temporary lockout".into(),
            InvalidKey => "EAPI:Invalid key".into(),
            InvalidSignature => "EAPI:Invalid signature".into(),
            InvalidNonce => "EAPI:Invalid nonce".into(),
            RateLimitExceeded => "EAPI:Rate limit exceeded".into(),
            BadRequest => "EAPI:Bad request".into(),
            UnknownAssetPair => "EQuery:Unknown asset pair".into(),
            UnknownAsset => "EQuery:Unknown asset".into(),
            InsufficientFunds => "EOrder:Insufficient funds".into(),
            OrderMinimumNotMet => "EOrder:Order minimum not met".into(),
            CostMinimumNotMet => "EOrder:Cost minimum not met".into(),
            TickSizeCheckFailed => "EOrder:Tick size check failed".into(),
            InvalidPrice(None) => "EOrder:Invalid price".into(),
            InvalidPrice(Some(why)) => format!("EOrder:Invalid price:{why}"),
            InvalidOrder => "EOrder:Invalid order".into(),
            UnknownOrder => "EOrder:Unknown order".into(),
            OrdersLimitExceeded => "EOrder:Orders limit exceeded".into(),
            ScheduledOrdersLimitExceeded => "EOrder:Scheduled orders limit exceeded".into(),
            OrderRateLimitExceeded => "EOrder:Rate limit exceeded".into(),
            UnknownPosition => "EOrder:Unknown position".into(),
            CannotOpenPosition => "EOrder:Cannot open position".into(),
            ReduceOnlyNoPosition => "EOrder:Reduce only:No position exists".into(),
            Unavailable => "EService:Unavailable".into(),
            MarketCancelOnly => "EService:Market in cancel_only mode".into(),
            MarketPostOnly => "EService:Market in post_only mode".into(),
            MarketLimitOnly => "EService:Market in limit_only mode".into(),
            MarketReduceOnly => "EService:Market in reduce_only mode".into(),
            DeadlineElapsed => "EService:Deadline elapsed".into(),
            Throttled(at) => format!("EService:Throttled: {at}"),
            FundingUnknownAsset => "EFunding:Unknown asset".into(),
            FundingInvalidAmount => "EFunding:Invalid amount".into(),
            FundingNoMethod => "EFunding:No funding method".into(),
            FundingUnknownWithdrawKey => "EFunding:Unknown withdraw key".into(),
            FundingMaxFeeExceeded => "EFunding:Max fee exceeded".into(),
            FundingInsufficientFunds => "EFunding:Insufficient funds".into(),
            FundingTooManyAddresses => "EFunding:Too many addresses".into(),
            FundingInvalidReference => "EFunding:Invalid reference id".into(),
            FundingUnknownReference => "EFunding:Unknown reference id".into(),
        }
    }

    /// The error as a metrics label: the Kraken string without the details that would make the
    /// label set unbounded (the field of `Invalid arguments` can be a client's JSON key, the time
    /// of `Throttled` changes every second).
    pub fn metric_label(&self) -> String {
        match self {
            KrakenError::InvalidArguments(Some(_)) => KrakenError::InvalidArguments(None).as_kraken(),
            KrakenError::Throttled(_) => "EService:Throttled".into(),
            other => other.as_kraken(),
        }
    }

    pub fn invalid(field: &str) -> KrakenError {
        KrakenError::InvalidArguments(Some(field.to_string()))
    }
}

impl fmt::Display for KrakenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_kraken())
    }
}

impl std::error::Error for KrakenError {}

/// WebSocket v2's error strings (the ack's `error`), as Kraken sends them and ccxt's table knows them.
pub mod ws {
    pub const MALFORMED: &str = "Malformed request";
    pub const METHOD_NOT_FOUND: &str = "Method not found";
    pub const CHANNEL_INVALID: &str = "Subscription name invalid";
    pub const PAIR_NOT_SUPPORTED: &str = "Currency pair not supported";
    pub const ALREADY_SUBSCRIBED: &str = "Already subscribed";
    pub const NOT_FOUND: &str = "Subscription Not Found";
    pub const DEPTH: &str = "Subscription depth not supported";
    pub const INTERVAL: &str = "Subscription ohlc interval not supported";
    pub const TOO_MANY: &str = "Exceeded max subscriptions";
    /// A connection over its request rate (Kraken's v2 spelling of a rate refusal; ccxt maps it
    /// to DDoSProtection).
    pub const TOO_MANY_REQUESTS: &str = "EGeneral:Too many requests";
    /// A token that is not one of ours, expired before first use, or whose key is gone.
    pub const INVALID_SESSION: &str = "ESession:Invalid session";
    /// The token's key lacks a permission the request needs.
    pub const INVALID_PERMISSIONS: &str = "EAccount:Invalid permissions";
    /// A private request without `token`.
    pub const TOKEN_MISSING: &str = "EGeneral:Invalid arguments";
}
