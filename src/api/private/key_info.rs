//! GetApiKeyInfo: the calling key's name and permissions, as Kraken's endpoint answers them
//! (permission "None": any valid key may ask). Kraken's reference page
//! (docs.kraken.com/api-reference/account-data/get-api-key-info) exists; the fields served are the
//! ones client code written against Kraken agrees on: `apiKeyName` and `permissions`, a list of
//! Kraken's permission ids. The page's restriction and timestamp fields could not be read, so
//! they are not invented (ARCHITECTURE.md, "Order endpoints where Kraken's docs are silent").

use super::super::params::Params;
use super::super::{ApiResult, Caller, Shared};
use crate::auth::Permissions as P;
use serde_json::json;

/// Kraken's permission ids in Kraken's order, for the permissions Calamari has (Earn and the two
/// withdrawal-address permissions do not exist here, so no key holds them).
const IDS: [(P, &str); 10] = [
    (P::QUERY_FUNDS, "query-funds"),
    (P::DEPOSIT_FUNDS, "add-funds"),
    (P::WITHDRAW_FUNDS, "withdraw-funds"),
    (P::QUERY_OPEN_ORDERS, "query-open-trades"),
    (P::QUERY_CLOSED_ORDERS, "query-closed-trades"),
    (P::CREATE_MODIFY_ORDERS, "modify-trades"),
    (P::CANCEL_CLOSE_ORDERS, "close-trades"),
    (P::QUERY_LEDGER, "query-ledger"),
    (P::EXPORT_DATA, "export-data"),
    (P::WEBSOCKETS, "create-ws-token"),
];

/// The ids of a permission set, in Kraken's order.
pub fn permission_ids(p: P) -> Vec<&'static str> {
    IDS.iter().filter(|(bit, _)| p.contains(*bit)).map(|(_, id)| *id).collect()
}

pub async fn get_api_key_info(_st: &Shared, c: &Caller, _p: &Params) -> ApiResult {
    Ok(json!({
        "apiKeyName": c.key.name,
        "permissions": permission_ids(c.key.permissions),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_one_kraken_id_in_order() {
        assert_eq!(permission_ids(P::ALL).len(), 10);
        assert_eq!(permission_ids(P::NONE), Vec::<&str>::new());
        assert_eq!(permission_ids(P(P::CANCEL_CLOSE_ORDERS.0 | P::QUERY_FUNDS.0)), ["query-funds", "close-trades"]);
    }
}
