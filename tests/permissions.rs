//! The permission matrix, checked against Kraken's documentation rather than against our own
//! table: every private endpoint Calamari serves is called with a key of each single permission,
//! a key with all of them and a key with none, and the answer must be exactly
//! `EGeneral:Permission denied` iff none of the key's permissions is one the endpoint's Kraken
//! reference page accepts.
//!
//! `DOCUMENTED` below was written by hand from the "API Key Permissions Required" line of each
//! endpoint's page in Kraken's REST reference. It deliberately does not use
//! `api::private::permission_for`: the point is an independent check of that table.
//!
//! Kraken serves the same reference under two paths: the legacy
//! `https://docs.kraken.com/api/docs/rest-api/<slug>` and the current
//! `https://docs.kraken.com/api-reference/<section>/<slug>.md`. Where both were read they say
//! the same. Careful with the ledger slugs: legacy `get-ledgers` is Ledgers and legacy
//! `get-ledgers-info` is QueryLedgers, while current `get-ledgers-info` is Ledgers and
//! `query-ledgers` is QueryLedgers.
//!
//! Conflicts between Kraken's own pages. The per-endpoint reference wins; the guide page
//! https://docs.kraken.com/exchange/guides/rest/api-keys ("Permission descriptions") says:
//! - TradeBalance under "Query Funds"; the reference says "Query open orders & trades" only.
//! - TradesHistory and QueryTrades under both "Query Open Orders & Trades" and "Query Closed
//!   Orders & Trades"; the reference says "Query closed orders & trades" only.
//! - CancelOrder and CancelAll under "Cancel/Close Orders" only; the reference accepts
//!   "Create & modify orders" or "Cancel & close orders".
//!
//! The ../shared/kraken-api/spot-api.md §3.1 digest also differs in two places, and the docs
//! win: it lists CancelAll under Cancel/Close only, and lets TradeBalance pass with Query Funds.
//!
//! Rate limits: each key makes exactly one call per endpoint (32), with no retry. Kraken counts
//! ledger/trade-history calls as 2 against a per-key counter of 15 draining 0.33/s on the lowest
//! tier (https://docs.kraken.com/exchange/guides/rest/ratelimits), so the calls go endpoint by
//! endpoint across all keys with a pause between endpoints, which keeps every key under the
//! ceiling. A rate-limit answer proves nothing about permissions and is reported as a mismatch.

mod common;
use common::{Key, Server};
use serde_json::Value;
use std::time::Duration;

// Kraken's UI names of the ten API-key permissions.
const QUERY_FUNDS: &str = "Query Funds";
const DEPOSIT_FUNDS: &str = "Deposit Funds";
const WITHDRAW_FUNDS: &str = "Withdraw Funds";
const QUERY_OPEN: &str = "Query Open Orders & Trades";
const QUERY_CLOSED: &str = "Query Closed Orders & Trades";
const CREATE_MODIFY: &str = "Create & Modify Orders";
const CANCEL_CLOSE: &str = "Cancel/Close Orders";
const QUERY_LEDGER: &str = "Query Ledger Entries";
const EXPORT_DATA: &str = "Export Data";
const WEBSOCKETS: &str = "Access WebSockets API";

const ALL_PERMISSIONS: [&str; 10] = [
    QUERY_FUNDS,
    DEPOSIT_FUNDS,
    WITHDRAW_FUNDS,
    QUERY_OPEN,
    QUERY_CLOSED,
    CREATE_MODIFY,
    CANCEL_CLOSE,
    QUERY_LEDGER,
    EXPORT_DATA,
    WEBSOCKETS,
];

/// Endpoint -> the permissions Kraken documents for it; any one of them suffices, and an item
/// `A+B` ("Funds permissions - Query and Funds permissions - Deposit") needs both.
/// Kraken's reference spells them "<group> - <name>"; the UI names are in the comments' brackets.
///
/// Left out: WalletTransfer, CreateSubaccount and AccountTransfer ("Funds permissions -
/// Withdraw" on their pages), which this venue refuses to every key with
/// `EGeneral:Permission denied` (no Futures wallet; spot subaccounts are for institutional clients
/// only), so a permission check cannot be told apart there (tests/funding.rs checks the refusal).
const DOCUMENTED: [(&str, &[&str]); 32] = [
    // https://docs.kraken.com/api-reference/account-data/get-account-balance.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/get-account-balance)
    // "Funds permissions - Query" [Query Funds]
    ("Balance", &[QUERY_FUNDS]),
    // https://docs.kraken.com/api-reference/account-data/get-extended-balance.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/get-extended-balance)
    // "Funds permissions - Query" [Query Funds]
    ("BalanceEx", &[QUERY_FUNDS]),
    // https://docs.kraken.com/api/docs/rest-api/get-trade-balance
    // and https://docs.kraken.com/api-reference/account-data/get-trade-balance.md
    // "Orders and trades - Query open orders & trades" [Query Open Orders & Trades].
    // Conflict: https://docs.kraken.com/exchange/guides/rest/api-keys lists TradeBalance under
    // Query Funds; the per-endpoint reference wins.
    ("TradeBalance", &[QUERY_OPEN]),
    // https://docs.kraken.com/api/docs/rest-api/get-trade-volume
    // and https://docs.kraken.com/api-reference/account-data/get-trade-volume.md
    // "Funds permissions - Query" [Query Funds]
    ("TradeVolume", &[QUERY_FUNDS]),
    // https://docs.kraken.com/api-reference/account-data/get-open-orders.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/get-open-orders)
    // "Orders and trades - Query open orders & trades" [Query Open Orders & Trades]
    ("OpenOrders", &[QUERY_OPEN]),
    // https://docs.kraken.com/api/docs/rest-api/get-closed-orders
    // and https://docs.kraken.com/api-reference/account-data/get-closed-orders.md
    // "Orders and trades - Query closed orders & trades" [Query Closed Orders & Trades]
    ("ClosedOrders", &[QUERY_CLOSED]),
    // https://docs.kraken.com/api-reference/account-data/query-orders-info.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/get-orders-info)
    // "Orders and trades - Query open orders & trades or Orders and trades - Query closed
    // orders & trades, depending on status of order". The order queried here does not exist,
    // so it has no status and either permission gets past the permission check.
    ("QueryOrders", &[QUERY_OPEN, QUERY_CLOSED]),
    // https://docs.kraken.com/api-reference/account-data/get-trades-history.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/get-trade-history)
    // "Orders and trades - Query closed orders & trades" [Query Closed Orders & Trades].
    // Conflict: https://docs.kraken.com/exchange/guides/rest/api-keys also lists it under
    // Query Open Orders & Trades; the per-endpoint reference wins.
    ("TradesHistory", &[QUERY_CLOSED]),
    // https://docs.kraken.com/api-reference/account-data/query-trades-info.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/get-trades-info)
    // "Orders and trades - Query closed orders & trades" [Query Closed Orders & Trades].
    // Conflict: https://docs.kraken.com/exchange/guides/rest/api-keys also lists it under
    // Query Open Orders & Trades; the per-endpoint reference wins.
    ("QueryTrades", &[QUERY_CLOSED]),
    // https://docs.kraken.com/api/docs/rest-api/get-ledgers (POST /private/Ledgers)
    // and https://docs.kraken.com/api-reference/account-data/get-ledgers-info.md
    // "Data - Query ledger entries" [Query Ledger Entries]
    ("Ledgers", &[QUERY_LEDGER]),
    // https://docs.kraken.com/api/docs/rest-api/get-ledgers-info (POST /private/QueryLedgers)
    // and https://docs.kraken.com/api-reference/account-data/query-ledgers.md
    // "Data - Query ledger entries" [Query Ledger Entries]
    ("QueryLedgers", &[QUERY_LEDGER]),
    // https://docs.kraken.com/api-reference/trading/add-order.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/add-order)
    // "Orders and trades - Create & modify orders" [Create & Modify Orders]
    ("AddOrder", &[CREATE_MODIFY]),
    // https://docs.kraken.com/api-reference/trading/cancel-order.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/cancel-order)
    // "Orders and trades - Create & modify orders or Orders and trades - Cancel & close orders".
    // Conflict: https://docs.kraken.com/exchange/guides/rest/api-keys lists CancelOrder under
    // Cancel/Close Orders only; the per-endpoint reference wins.
    ("CancelOrder", &[CREATE_MODIFY, CANCEL_CLOSE]),
    // https://docs.kraken.com/api-reference/trading/cancel-all-orders.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/cancel-all-orders)
    // "Orders and trades - Create & modify orders or Orders and trades - Cancel & close orders".
    // Conflict: https://docs.kraken.com/exchange/guides/rest/api-keys (and the spot-api.md
    // digest) list CancelAll under Cancel/Close Orders only; the per-endpoint reference wins.
    ("CancelAll", &[CREATE_MODIFY, CANCEL_CLOSE]),
    // https://docs.kraken.com/api-reference/trading/cancel-all-orders-after-x.md
    // "API Key Permissions Required: Orders and trades - Create & modify orders or Orders and
    // trades - Cancel & close orders" (python-kraken-sdk's docstring says Create & Modify only).
    ("CancelAllOrdersAfter", &[CREATE_MODIFY, CANCEL_CLOSE]),
    // https://docs.kraken.com/api-reference/trading/add-order-batch.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/add-order-batch)
    // "Orders and trades - Create & modify orders and Orders and trades - Cancel & close
    // orders" [both]. python-kraken-sdk 3.5.1's docstring names Create & Modify only; the
    // reference page wins.
    ("AddOrderBatch", &["Create & Modify Orders+Cancel/Close Orders"]),
    // https://docs.kraken.com/api-reference/trading/edit-order.md
    // "Orders and trades - Create & modify orders and Orders and trades - Cancel & close
    // orders" [both]
    ("EditOrder", &["Create & Modify Orders+Cancel/Close Orders"]),
    // https://docs.kraken.com/api-reference/trading/amend-order.md
    // (legacy https://docs.kraken.com/api/docs/rest-api/amend-order)
    // "Orders and trades - Create & modify orders or Orders and trades - Cancel & close orders"
    ("AmendOrder", &[CREATE_MODIFY, CANCEL_CLOSE]),
    // https://docs.kraken.com/api-reference/trading/cancel-order-batch.md
    // "Orders and trades - Create & modify orders or Orders and trades - Cancel & close orders"
    ("CancelOrderBatch", &[CREATE_MODIFY, CANCEL_CLOSE]),
    // https://docs.kraken.com/api-reference/account-data/get-order-amends.md
    // "Orders and trades - Query open orders & trades or Orders and trades - Query closed
    // orders & trades, depending on status of order". The order named here does not exist, so
    // either permission gets past the permission check (as QueryOrders above).
    ("OrderAmends", &[QUERY_OPEN, QUERY_CLOSED]),
    // https://docs.kraken.com/api-reference/account-data/get-open-positions.md
    // "Orders and trades - Query open orders & trades" [Query Open Orders & Trades]
    ("OpenPositions", &[QUERY_OPEN]),
    // https://docs.kraken.com/api-reference/account-data/get-api-key-info.md
    // "API Key Permissions Required: None" (any key, the one without permissions too).
    ("GetApiKeyInfo", &[]),
    // https://docs.kraken.com/api-reference/funding/get-deposit-methods.md
    // "Funds permissions - Query and Funds permissions - Deposit" [both]
    ("DepositMethods", &["Query Funds+Deposit Funds"]),
    // https://docs.kraken.com/api-reference/funding/get-deposit-addresses.md
    // "Funds permissions - Query" [Query Funds]. python-kraken-sdk 3.5.1's docstring (and
    // Kraken's older pages) say Deposit Funds; both are accepted.
    ("DepositAddresses", &[QUERY_FUNDS, DEPOSIT_FUNDS]),
    // https://docs.kraken.com/api/docs/rest-api/get-status-recent-deposits
    // "Funds permissions - Query" [Query Funds]
    ("DepositStatus", &[QUERY_FUNDS]),
    // https://docs.kraken.com/api-reference/funding/get-withdrawal-methods.md
    // "Funds permissions - Query and Funds permissions - Withdraw" [both]
    ("WithdrawMethods", &["Query Funds+Withdraw Funds"]),
    // https://docs.kraken.com/api-reference/funding/get-withdrawal-addresses.md
    // "Funds permissions - Query and Funds permissions - Withdraw" [both]
    ("WithdrawAddresses", &["Query Funds+Withdraw Funds"]),
    // https://docs.kraken.com/api-reference/funding/get-withdrawal-information.md
    // "Funds permissions - Query and Funds permissions - Withdraw" [both]
    ("WithdrawInfo", &["Query Funds+Withdraw Funds"]),
    // https://docs.kraken.com/api-reference/funding/withdraw-funds.md
    // "Funds permissions - Withdraw" [Withdraw Funds]
    ("Withdraw", &[WITHDRAW_FUNDS]),
    // https://docs.kraken.com/api/docs/rest-api/get-status-recent-withdrawals
    // "Funds permissions - Withdraw or Data - Query ledger entries"
    ("WithdrawStatus", &[WITHDRAW_FUNDS, QUERY_LEDGER]),
    // https://docs.kraken.com/api-reference/funding/cancel-withdrawal.md
    // "Funds permissions - Withdraw" [Withdraw Funds]
    ("WithdrawCancel", &[WITHDRAW_FUNDS]),
    // https://docs.kraken.com/api/docs/rest-api/get-websockets-token
    // "API Key Permissions Required: WebSocket interface - On" [Access WebSockets API]
    ("GetWebSocketsToken", &[WEBSOCKETS]),
];

const PERMISSION_DENIED: &str = "EGeneral:Permission denied";
const RATE_LIMITED: &str = "EAPI:Rate limit exceeded";

/// Pause between one endpoint's round of calls (one per key) and the next; see the header.
const PAUSE_BETWEEN_ENDPOINTS: Duration = Duration::from_millis(1000);

/// Harmless parameters: nothing is placed and nothing that exists is canceled.
fn params(endpoint: &str) -> Vec<(&'static str, &'static str)> {
    match endpoint {
        "TradeVolume" => vec![("pair", "XBTUSD")],
        "QueryOrders" => vec![("txid", "OAAAAA-AAAAA-AAAAAA")],
        "QueryTrades" => vec![("txid", "TAAAAA-AAAAA-AAAAAA")],
        "QueryLedgers" => vec![("id", "LAAAAA-AAAAA-AAAAAA")],
        "AddOrder" => {
            vec![("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.0001"), ("validate", "true")]
        }
        "CancelOrder" | "AmendOrder" => vec![("txid", "OAAAAA-AAAAA-AAAAAA"), ("order_qty", "0.01")],
        // 0 disables the switch: nothing to cancel, ever.
        "CancelAllOrdersAfter" => vec![("timeout", "0")],
        "CancelOrderBatch" => vec![("orders", "OAAAAA-AAAAA-AAAAAA")],
        "EditOrder" => vec![("txid", "OAAAAA-AAAAA-AAAAAA"), ("pair", "XBTUSD"), ("volume", "0.01")],
        "OrderAmends" => vec![("order_id", "OAAAAA-AAAAA-AAAAAA")],
        "AddOrderBatch" => vec![
            ("pair", "XBTUSD"),
            ("validate", "true"),
            ("orders[0][type]", "buy"),
            ("orders[0][ordertype]", "limit"),
            ("orders[0][price]", "1000"),
            ("orders[0][volume]", "0.0001"),
            ("orders[1][type]", "buy"),
            ("orders[1][ordertype]", "limit"),
            ("orders[1][price]", "1001"),
            ("orders[1][volume]", "0.0001"),
        ],
        "DepositMethods" | "WithdrawMethods" => vec![("asset", "XBT")],
        "DepositAddresses" => vec![("asset", "XBT"), ("method", "Bitcoin")],
        "WithdrawInfo" | "Withdraw" => vec![("asset", "XBT"), ("key", "no-such-key"), ("amount", "0.01")],
        "WithdrawCancel" => vec![("asset", "XBT"), ("refid", "AAAAAA-AAAAA-AAAAAA")],
        _ => vec![],
    }
}

/// One key under test: its label in the report, the permissions it was given, and the key
/// itself (or why it could not be created).
struct TestKey {
    label: String,
    permissions: Vec<&'static str>,
    key: Result<Key, String>,
}

/// `calamari key create` without panicking, so a refused permission list (e.g. `none` before the
/// CLI accepts it) becomes a row of the report instead of ending the test.
fn create_key(server: &Server, name: &str, permissions: &str) -> Result<Key, String> {
    let out = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .args(["key", "create", "--account", "demo", "--name", name, "--permissions", permissions, "--json"])
        .output()
        .map_err(|e| format!("run cli: {e}"))?;
    if !out.status.success() {
        return Err(format!("`key create --permissions {permissions}` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("key json: {e}"))?;
    match (v["key"].as_str(), v["secret"].as_str()) {
        (Some(key), Some(secret)) => Ok(Key { key: key.into(), secret: secret.into() }),
        _ => Err(format!("key json without key/secret: {v}")),
    }
}

/// The answer's errors, or "ok" (a panic in the call, e.g. a non-200 answer, is reported too).
fn describe(answer: &Result<Value, String>) -> String {
    match answer {
        Err(e) => format!("no answer: {e}"),
        Ok(v) => match v["error"].as_array() {
            Some(errors) if errors.is_empty() => "ok".into(),
            Some(errors) => {
                errors.iter().map(|e| e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string())).collect::<Vec<_>>().join(", ")
            }
            None => format!("no error array: {v}"),
        },
    }
}

#[test]
fn every_endpoint_answers_permission_denied_exactly_as_krakens_docs_say() {
    let server = Server::start();

    let mut keys: Vec<TestKey> = ALL_PERMISSIONS
        .iter()
        .enumerate()
        .map(|(i, p)| TestKey { label: p.to_string(), permissions: vec![*p], key: create_key(&server, &format!("p{i}"), p) })
        .collect();
    keys.push(TestKey {
        label: "all".into(),
        permissions: ALL_PERMISSIONS.to_vec(),
        key: create_key(&server, "all", &ALL_PERMISSIONS.join(",")),
    });
    keys.push(TestKey { label: "none".into(), permissions: vec![], key: create_key(&server, "none", "none") });
    // The pairs Kraken's compound requirements name.
    for (i, pair) in [[QUERY_FUNDS, DEPOSIT_FUNDS], [QUERY_FUNDS, WITHDRAW_FUNDS], [CREATE_MODIFY, CANCEL_CLOSE]].iter().enumerate() {
        keys.push(TestKey {
            label: pair.join("+"),
            permissions: pair.to_vec(),
            key: create_key(&server, &format!("pair{i}"), &pair.join(",")),
        });
    }

    // (endpoint, key label, expected, got)
    let mut mismatches: Vec<(String, String, String, String)> = Vec::new();
    for k in &keys {
        if let Err(e) = &k.key {
            mismatches.push(("(key setup)".into(), k.label.clone(), "key created".into(), e.clone()));
        }
    }

    // grid[endpoint][key] for the printed matrix.
    let mut grid: Vec<Vec<&'static str>> = Vec::new();
    for (round, (endpoint, accepted)) in DOCUMENTED.iter().enumerate() {
        if round > 0 {
            std::thread::sleep(PAUSE_BETWEEN_ENDPOINTS);
        }
        let p = params(endpoint);
        let mut row = Vec::new();
        for k in &keys {
            let Ok(key) = &k.key else {
                row.push("-");
                continue;
            };
            let allowed = accepted.is_empty() || accepted.iter().any(|alt| alt.split('+').all(|part| k.permissions.contains(&part)));
            let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.private(key, endpoint, &p))).map_err(|e| {
                e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
            });
            let denied = matches!(&answer, Ok(v) if v["error"] == serde_json::json!([PERMISSION_DENIED]));
            let rate_limited = matches!(&answer, Ok(v) if v["error"].as_array().is_some_and(|e| e.iter().any(|e| e == RATE_LIMITED)));
            let conclusive = answer.is_ok() && !rate_limited;
            let good = conclusive && denied != allowed;
            row.push(match (good, allowed) {
                (true, true) => "pass",
                (true, false) => "DENY",
                (false, _) => "XX",
            });
            if !good {
                let expected = if allowed { format!("not {PERMISSION_DENIED}") } else { PERMISSION_DENIED.to_string() };
                mismatches.push((endpoint.to_string(), k.label.clone(), expected, describe(&answer)));
            }
        }
        grid.push(row);
    }

    // The whole matrix, for the log: pass = allowed and not denied, DENY = denied as documented,
    // XX = mismatch, - = key could not be created.
    let short: Vec<String> = (0..keys.len()).map(|i| if i < 10 { format!("p{i}") } else { keys[i].label.clone() }).collect();
    println!("keys: {}", keys.iter().zip(&short).map(|(k, s)| format!("{s}={}", k.label)).collect::<Vec<_>>().join(", "));
    println!("{:<14}{}", "", short.iter().map(|s| format!("{s:>6}")).collect::<String>());
    for ((endpoint, _), row) in DOCUMENTED.iter().zip(&grid) {
        println!("{endpoint:<14}{}", row.iter().map(|c| format!("{c:>6}")).collect::<String>());
    }

    if !mismatches.is_empty() {
        let w = |f: fn(&(String, String, String, String)) -> &String, title: &str| {
            mismatches.iter().map(|m| f(m).len()).max().unwrap_or(0).max(title.len())
        };
        let (we, wk, wx) = (w(|m| &m.0, "endpoint"), w(|m| &m.1, "key permission"), w(|m| &m.2, "expected"));
        let mut table = format!("{:<we$}  {:<wk$}  {:<wx$}  got\n", "endpoint", "key permission", "expected");
        for (endpoint, key, expected, got) in &mismatches {
            table.push_str(&format!("{endpoint:<we$}  {key:<wk$}  {expected:<wx$}  {got}\n"));
        }
        panic!("{} of {} checks disagree with Kraken's documented permissions:\n{table}", mismatches.len(), DOCUMENTED.len() * keys.len());
    }
}
