//! Kraken's private methods: which permission each needs, and the dispatch to the modules that
//! implement them (funds, orders, batch, amend, history, funding, exports).

mod amend;
mod batch;
mod dead_man;
mod deposits;
pub(crate) mod exports;
mod funds;
pub(crate) mod history;
mod key_info;
pub(crate) mod order_params;
mod order_prices;
pub(crate) mod orders;
mod withdrawals;
mod ws_token;

use super::params::Params;
use super::{ApiResult, Caller, Needs, Shared};
use crate::auth::Permissions as P;
use crate::error::KrakenError;

/// Every private method served, with the permissions it accepts (any one suffices). From Kraken's
/// REST reference: each endpoint's "API Key Permissions Required" (where Kraken's key guide says
/// otherwise, the endpoint's own page wins; tests/permissions.rs checks this table against the
/// documentation independently). A method not listed here is `EGeneral:Unknown method` before
/// anything else; tests/openapi.rs checks the list and the permissions against
/// src/api/openapi.json (`x-kraken-permissions`) and that each method is served.
#[rustfmt::skip]
pub const METHODS: &[(&str, Needs)] = &[
    ("Balance", &[P::QUERY_FUNDS]),
    ("BalanceEx", &[P::QUERY_FUNDS]),
    ("TradeBalance", &[P::QUERY_OPEN_ORDERS]),
    ("TradeVolume", &[P::QUERY_FUNDS]),
    ("OpenOrders", &[P::QUERY_OPEN_ORDERS]),
    ("ClosedOrders", &[P::QUERY_CLOSED_ORDERS]),
    ("QueryOrders", &[P::QUERY_OPEN_ORDERS, P::QUERY_CLOSED_ORDERS]),
    ("TradesHistory", &[P::QUERY_CLOSED_ORDERS]),
    ("QueryTrades", &[P::QUERY_CLOSED_ORDERS]),
    ("Ledgers", &[P::QUERY_LEDGER]),
    ("QueryLedgers", &[P::QUERY_LEDGER]),
    ("AddOrder", &[P::CREATE_MODIFY_ORDERS]),
    ("CancelOrder", &[P::CANCEL_CLOSE_ORDERS, P::CREATE_MODIFY_ORDERS]),
    ("CancelAll", &[P::CANCEL_CLOSE_ORDERS, P::CREATE_MODIFY_ORDERS]),
    ("CancelAllOrdersAfter", &[P::CANCEL_CLOSE_ORDERS, P::CREATE_MODIFY_ORDERS]),
    // "Create & modify orders and Cancel & close orders": both.
    ("AddOrderBatch", &[P(P::CREATE_MODIFY_ORDERS.0 | P::CANCEL_CLOSE_ORDERS.0)]),
    ("EditOrder", &[P(P::CREATE_MODIFY_ORDERS.0 | P::CANCEL_CLOSE_ORDERS.0)]),
    ("AmendOrder", &[P::CREATE_MODIFY_ORDERS, P::CANCEL_CLOSE_ORDERS]),
    ("CancelOrderBatch", &[P::CREATE_MODIFY_ORDERS, P::CANCEL_CLOSE_ORDERS]),
    // Either query permission here; the order's status then decides which one (amend.rs).
    ("OrderAmends", &[P::QUERY_OPEN_ORDERS, P::QUERY_CLOSED_ORDERS]),
    ("OpenPositions", &[P::QUERY_OPEN_ORDERS]),
    // "API Key Permissions Required: None": any valid key.
    ("GetApiKeyInfo", &[P::NONE]),
    // A combined permission (`P(a | b)`) needs all of its parts: "Query and Deposit".
    ("DepositMethods", &[P(P::QUERY_FUNDS.0 | P::DEPOSIT_FUNDS.0)]),
    ("DepositAddresses", &[P::QUERY_FUNDS, P::DEPOSIT_FUNDS]),
    ("DepositStatus", &[P::QUERY_FUNDS]),
    ("WithdrawMethods", &[P(P::QUERY_FUNDS.0 | P::WITHDRAW_FUNDS.0)]),
    ("WithdrawAddresses", &[P(P::QUERY_FUNDS.0 | P::WITHDRAW_FUNDS.0)]),
    ("WithdrawInfo", &[P(P::QUERY_FUNDS.0 | P::WITHDRAW_FUNDS.0)]),
    ("Withdraw", &[P::WITHDRAW_FUNDS]),
    ("WithdrawStatus", &[P::WITHDRAW_FUNDS, P::QUERY_LEDGER]),
    ("WithdrawCancel", &[P::WITHDRAW_FUNDS]),
    ("WalletTransfer", &[P::WITHDRAW_FUNDS]),
    ("CreateSubaccount", &[P::WITHDRAW_FUNDS]),
    ("AccountTransfer", &[P::WITHDRAW_FUNDS]),
    ("AddExport", &[P::EXPORT_DATA]),
    ("ExportStatus", &[P::EXPORT_DATA]),
    ("RetrieveExport", &[P::EXPORT_DATA]),
    ("RemoveExport", &[P::EXPORT_DATA]),
    ("GetWebSocketsToken", &[P::WEBSOCKETS]),
];

/// The permissions a private method accepts (any one suffices), or `None` for an unknown method.
pub fn permission_for(method: &str) -> Option<Needs> {
    METHODS.iter().find(|(name, _)| *name == method).map(|(_, needs)| *needs)
}

pub async fn dispatch(st: &Shared, method: &str, caller: &Caller, p: &Params) -> ApiResult {
    match method {
        "Balance" => funds::balance(st, caller).await,
        "BalanceEx" => funds::balance_ex(st, caller).await,
        "TradeBalance" => funds::trade_balance(st, caller, p).await,
        "TradeVolume" => funds::trade_volume(st, caller, p).await,
        "OpenOrders" => history::open_orders(st, caller, p).await,
        "ClosedOrders" => history::closed_orders(st, caller, p).await,
        "QueryOrders" => history::query_orders(st, caller, p).await,
        "TradesHistory" => history::trades_history(st, caller, p).await,
        "QueryTrades" => history::query_trades(st, caller, p).await,
        "Ledgers" => history::ledgers(st, caller, p).await,
        "QueryLedgers" => history::query_ledgers(st, caller, p).await,
        "AddOrder" => orders::add_order(st, caller, p).await,
        "CancelOrder" => orders::cancel_order(st, caller, p).await,
        "CancelAll" => orders::cancel_all(st, caller).await,
        "CancelAllOrdersAfter" => dead_man::cancel_all_orders_after(st, caller, p).await,
        "AddOrderBatch" => batch::add_order_batch(st, caller, p).await,
        "CancelOrderBatch" => batch::cancel_order_batch(st, caller, p).await,
        "AmendOrder" => amend::amend_order(st, caller, p).await,
        "OrderAmends" => amend::order_amends(st, caller, p).await,
        "EditOrder" => amend::edit_order(st, caller, p).await,
        "OpenPositions" => funds::open_positions(st, caller, p).await,
        "GetApiKeyInfo" => key_info::get_api_key_info(st, caller, p).await,
        "DepositMethods" => deposits::deposit_methods(st, caller, p).await,
        "DepositAddresses" => deposits::deposit_addresses(st, caller, p).await,
        "DepositStatus" => deposits::deposit_status(st, caller, p).await,
        "WithdrawMethods" => withdrawals::withdraw_methods(st, caller, p).await,
        "WithdrawAddresses" => withdrawals::withdraw_addresses(st, caller, p).await,
        "WithdrawInfo" => withdrawals::withdraw_info(st, caller, p).await,
        "Withdraw" => withdrawals::withdraw(st, caller, p).await,
        "WithdrawStatus" => withdrawals::withdraw_status(st, caller, p).await,
        "WithdrawCancel" => withdrawals::withdraw_cancel(st, caller, p).await,
        "WalletTransfer" => withdrawals::wallet_transfer(st, caller, p).await,
        "CreateSubaccount" | "AccountTransfer" => withdrawals::institutional_only(st, caller, p).await,
        "AddExport" => exports::add_export(st, caller, p).await,
        "ExportStatus" => exports::export_status(st, caller, p).await,
        "RemoveExport" => exports::remove_export(st, caller, p).await,
        "GetWebSocketsToken" => ws_token::get_websockets_token(st, caller).await,
        // RetrieveExport answers a file; `api::private_call` serves it before the envelope.
        _ => Err(KrakenError::UnknownMethod),
    }
}
