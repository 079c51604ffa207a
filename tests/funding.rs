//! Funding end to end through the real server on its test clock (`CALAMARI_TEST_CLOCK=1`,
//! `/admin/clock/advance`): deposit addresses, a deposit from the chain waiting for its
//! confirmations, the address book, WithdrawInfo, every Withdraw refusal, holds, cancel, the
//! Initial → Pending → Settled → Success path, an operator failure, the daily limit, permission
//! and tier refusals, adjustments, and a restart that replays it all to the same digest.

mod common;

use common::{err, ok, Key, Server};
use serde_json::{json, Value};

fn advance(s: &Server, seconds: u64) {
    s.admin_post("/admin/clock/advance", json!({ "seconds": seconds })).unwrap();
}

fn xbt(s: &Server, k: &Key) -> (String, String) {
    let b = ok(&s.private(k, "BalanceEx", &[])).clone();
    (b["XXBT"]["balance"].as_str().unwrap_or("0").to_string(), b["XXBT"]["hold_trade"].as_str().unwrap_or("0").to_string())
}

fn withdrawal(s: &Server, k: &Key, refid: &str) -> Value {
    let list = ok(&s.private(k, "WithdrawStatus", &[("asset", "XBT")])).clone();
    list.as_array().unwrap().iter().find(|w| w["refid"] == refid).cloned().unwrap_or_else(|| panic!("{refid} not in {list}"))
}

fn cfg(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("funding.toml");
    // A daily limit of 60,000 USD: about 0.68 XBT at the reference price.
    std::fs::write(&path, "[funding]\nintermediate_daily_usd = 60000\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn deposit_and_withdrawal_lifecycle_on_the_test_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let config = cfg(&tmp);
    let mut s = Server::start_with(&["--limits", "off", "--config", &config], &[("CALAMARI_TEST_CLOCK", "1")]);
    let k = s.account("alice", "10000", "1", "all");

    // Deposit methods and a stable address in the network's format; new=true makes another.
    let methods = ok(&s.private(&k, "DepositMethods", &[("asset", "XBT")])).clone();
    assert_eq!(methods[0]["method"], "Bitcoin");
    assert_eq!(methods[0]["gen-address"], true);
    let a1 = ok(&s.private(&k, "DepositAddresses", &[("asset", "XBT"), ("method", "Bitcoin")])).clone();
    let a2 = ok(&s.private(&k, "DepositAddresses", &[("asset", "XXBT"), ("method", "Bitcoin"), ("new", "false")])).clone();
    assert_eq!(a1, a2, "the address is stable");
    let address = a1[0]["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("bc1q") && address.len() == 42, "{address}");
    let a3 = ok(&s.private(&k, "DepositAddresses", &[("asset", "XBT"), ("method", "Bitcoin"), ("new", "true")])).clone();
    assert_eq!(a3.as_array().unwrap().len(), 2);
    assert_ne!(a3[0]["address"], address.as_str());
    let eth = ok(&s.private(&k, "DepositAddresses", &[("asset", "ETH"), ("method", "Ether (Hex)")])).clone();
    assert!(eth[0]["address"].as_str().unwrap().starts_with("0x"));
    let xrp = ok(&s.private(&k, "DepositAddresses", &[("asset", "XRP"), ("method", "Ripple XRP")])).clone();
    assert!(xrp[0]["address"].as_str().unwrap().starts_with('r') && xrp[0]["tag"].is_string(), "{xrp}");
    assert_eq!(err(&s.private(&k, "DepositAddresses", &[("asset", "XBT"), ("method", "Carrier pigeon")])), "EFunding:No funding method");
    assert_eq!(err(&s.private(&k, "DepositMethods", &[("asset", "NOPE")])), "EFunding:Unknown asset");

    // A deposit from the chain: Settled until 3 confirmations x 600 s have passed, then credited.
    let out = s.cli(&["chain", "deposit", &address, "0.5"]);
    assert!(out.contains("Settled"), "{out}");
    let dep = ok(&s.private(&k, "DepositStatus", &[("asset", "XBT")])).clone();
    assert_eq!(
        (dep[0]["status"].as_str(), dep[0]["amount"].as_str(), dep[0]["info"].as_str()),
        (Some("Settled"), Some("0.5000000000"), Some(address.as_str()))
    );
    assert_eq!(xbt(&s, &k).0, "1.0000000000");
    advance(&s, 1799);
    assert_eq!(ok(&s.private(&k, "DepositStatus", &[]))[0]["status"], "Settled");
    advance(&s, 1);
    let dep = ok(&s.private(&k, "DepositStatus", &[("cursor", "true")])).clone();
    assert_eq!(dep["deposit"][0]["status"], "Success", "{dep}");
    assert!(dep.get("next_cursor").is_none());
    assert_eq!(xbt(&s, &k).0, "1.5000000000");
    let deposits = ok(&s.private(&k, "Ledgers", &[("type", "deposit"), ("asset", "XBT")])).clone();
    let credit = deposits["ledger"].as_object().unwrap().values().find(|e| e["amount"] == "0.5000000000").unwrap();
    assert_eq!(credit["refid"], dep["deposit"][0]["refid"], "the deposit's ledger entry carries its refid");

    // The address book: a verified and an unverified entry.
    let dest = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
    s.cli(&["address-book", "add", "alice", "cold", "--asset", "XBT", dest]);
    s.cli(&["address-book", "add", "alice", "hot", "--asset", "XBT", "bc1qhot000000000000000000000000000000000", "--unverified"]);
    let book = ok(&s.private(&k, "WithdrawAddresses", &[("asset", "XBT")])).clone();
    assert_eq!(book.as_array().unwrap().len(), 2);
    assert_eq!(ok(&s.private(&k, "WithdrawAddresses", &[("verified", "true")])).as_array().unwrap().len(), 1);
    let info = ok(&s.private(&k, "WithdrawInfo", &[("asset", "XBT"), ("key", "cold"), ("amount", "0.1")])).clone();
    assert_eq!(
        (info["method"].as_str(), info["amount"].as_str(), info["fee"].as_str()),
        (Some("Bitcoin"), Some("0.0998500000"), Some("0.0001500000"))
    );

    // Every refusal changes nothing.
    let w = |params: &[(&str, &str)]| err(&s.private(&k, "Withdraw", params));
    assert_eq!(w(&[("asset", "XBT"), ("key", "nope"), ("amount", "0.1")]), "EFunding:Unknown withdraw key");
    assert_eq!(w(&[("asset", "XBT"), ("key", "hot"), ("amount", "0.1")]), "EFunding:Unknown withdraw key");
    assert_eq!(w(&[("asset", "XBT"), ("key", "cold"), ("amount", "0.1"), ("max_fee", "0.0001")]), "EFunding:Max fee exceeded");
    assert_eq!(w(&[("asset", "XBT"), ("key", "cold"), ("amount", "0.1"), ("address", "bc1qother")]), "EGeneral:Invalid arguments:address");
    assert_eq!(w(&[("asset", "XBT"), ("key", "cold"), ("amount", "100")]), "EFunding:Insufficient funds");
    assert_eq!(w(&[("asset", "XBT"), ("key", "cold"), ("amount", "0.0001")]), "EFunding:Invalid amount");
    assert_eq!(w(&[("asset", "ETH"), ("key", "cold"), ("amount", "0.1")]), "EFunding:Unknown withdraw key");
    assert_eq!(w(&[("asset", "XBT"), ("key", "cold"), ("amount", "0.69")]), "EFunding:Invalid amount", "over the daily limit");
    assert_eq!(xbt(&s, &k), ("1.5000000000".into(), "0.0000000000".into()));

    // Withdraw holds at once; cancel releases it; a second cancel is refused.
    let ok_w = |amount: &str| {
        ok(&s.private(&k, "Withdraw", &[("asset", "XBT"), ("key", "cold"), ("amount", amount), ("max_fee", "0.0002"), ("address", dest)]))
            ["refid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let r1 = ok_w("0.1");
    assert_eq!(xbt(&s, &k), ("1.5000000000".into(), "0.1000000000".into()));
    assert_eq!(withdrawal(&s, &k, &r1)["status"], "Initial");
    assert_eq!(ok(&s.private(&k, "WithdrawCancel", &[("asset", "XBT"), ("refid", &r1)])), &json!(true));
    assert_eq!(err(&s.private(&k, "WithdrawCancel", &[("asset", "XBT"), ("refid", &r1)])), "EFunding:Unknown reference id");
    assert_eq!(err(&s.private(&k, "WithdrawCancel", &[("asset", "XBT"), ("refid", "not-a-refid")])), "EFunding:Invalid reference id");
    let w1 = withdrawal(&s, &k, &r1);
    assert_eq!((w1["status"].as_str(), w1["status-prop"].as_str()), (Some("Failure"), Some("canceled")));
    assert_eq!(xbt(&s, &k), ("1.5000000000".into(), "0.0000000000".into()));

    // Processing debits the hold; broadcast gives a txid; the operator fails it: refunded.
    let r2 = ok_w("0.2");
    advance(&s, 60);
    assert_eq!(withdrawal(&s, &k, &r2)["status"], "Pending");
    assert_eq!(xbt(&s, &k), ("1.3000000000".into(), "0.0000000000".into()));
    assert_eq!(err(&s.private(&k, "WithdrawCancel", &[("asset", "XBT"), ("refid", &r2)])), "EFunding:Unknown reference id");
    advance(&s, 60);
    let w2 = withdrawal(&s, &k, &r2);
    assert_eq!(w2["status"], "Settled");
    assert!(w2["txid"].as_str().is_some_and(|t| t.len() == 64), "{w2}");
    s.cli(&["chain", "fail", &r2]);
    assert_eq!(withdrawal(&s, &k, &r2)["status"], "Failure");
    assert_eq!(xbt(&s, &k).0, "1.5000000000");
    let entries = ok(&s.private(&k, "Ledgers", &[("type", "withdrawal")])).clone();
    assert_eq!(entries["count"], 2, "the debit and its refund: {entries}");

    // The whole way to Success.
    let r3 = ok_w("0.3");
    advance(&s, 60 + 60 + 1800);
    let w3 = withdrawal(&s, &k, &r3);
    assert_eq!(
        (w3["status"].as_str(), w3["amount"].as_str(), w3["fee"].as_str()),
        (Some("Success"), Some("0.2998500000"), Some("0.0001500000"))
    );
    assert_eq!(xbt(&s, &k).0, "1.2000000000");
    let paged = ok(&s.private(&k, "WithdrawStatus", &[("cursor", "true"), ("limit", "2")])).clone();
    assert_eq!(paged["withdrawals"].as_array().unwrap().len(), 2);
    let next = paged["next_cursor"].as_str().unwrap().to_string();
    let rest = ok(&s.private(&k, "WithdrawStatus", &[("cursor", &next), ("limit", "2")])).clone();
    assert_eq!(rest["withdrawals"][0]["refid"], r1.as_str());

    // Permission and tier refusals.
    let reader = s.key("alice", "reader", "Query Funds,Query Ledger Entries");
    assert_eq!(err(&s.private(&reader, "Withdraw", &[("asset", "XBT"), ("key", "cold"), ("amount", "0.1")])), "EGeneral:Permission denied");
    assert_eq!(err(&s.private(&reader, "DepositMethods", &[("asset", "XBT")])), "EGeneral:Permission denied", "Query and Deposit");
    s.cli(&["account", "tier", "alice", "starter"]);
    assert_eq!(err(&s.private(&k, "Withdraw", &[("asset", "XBT"), ("key", "cold"), ("amount", "0.1")])), "EGeneral:Permission denied");
    s.cli(&["account", "tier", "alice", "unverified"]);
    assert_eq!(err(&s.private(&k, "DepositMethods", &[("asset", "XBT")])), "EFunding:No funding method");
    s.cli(&["account", "tier", "alice", "intermediate"]);
    assert_eq!(
        err(&s.private(&k, "WalletTransfer", &[("asset", "XBT"), ("from", "Spot Wallet"), ("to", "Futures Wallet"), ("amount", "0.1")])),
        "EGeneral:Permission denied"
    );

    // An adjustment is an `adjustment` ledger entry.
    s.cli(&["adjust", "alice", "USD", "-100", "--reason", "fee refund reversal"]);
    let adj = ok(&s.private(&k, "Ledgers", &[("type", "adjustment")])).clone();
    assert_eq!(adj["count"], 1);
    assert_eq!(adj["ledger"].as_object().unwrap().values().next().unwrap()["amount"], "-100.0000");

    // The books balance, and a restart replays the same state.
    let audit: Value = serde_json::from_str(&s.cli(&["audit"])).unwrap();
    assert_eq!(audit["ok"], true, "{audit}");
    s.assert_no_panics();
    s.terminate();
    let dir = s.data_dir.clone();
    let s2 = Server::start_in_with(&dir, &["--limits", "off", "--config", &config], &[("CALAMARI_TEST_CLOCK", "1")]);
    let again: Value = serde_json::from_str(&s2.cli(&["audit"])).unwrap();
    assert_eq!(again["digest"], audit["digest"]);
}
