//! `calamari chain …`, `calamari address-book …` and `calamari adjust`: the operator's funding
//! commands, clients of the running server's admin interface (src/admin/funding.rs).

use super::admin_client::Admin;
use clap::Subcommand;
use serde_json::json;
use std::path::Path;

/// What happens "on the chain", outside the exchange.
#[derive(Subcommand, Debug)]
pub enum ChainCmd {
    /// A deposit arrives on one of the exchange's deposit addresses (it is Settled until the
    /// method's confirmations have passed on the server's clock, then credited).
    Deposit {
        address: String,
        amount: String,
        /// The destination tag, for tagged methods (Ripple).
        #[arg(long)]
        tag: Option<String>,
    },
    /// Make a deposit (not yet credited) or a withdrawal (not yet successful) fail.
    Fail { refid: String },
}

/// An account's address book (Kraken's withdrawal keys).
#[derive(Subcommand, Debug)]
pub enum AddressBookCmd {
    /// Add or replace an entry; verified unless --unverified.
    Add {
        account: String,
        /// The key name clients pass as `key` to Withdraw.
        key: String,
        #[arg(long)]
        asset: String,
        /// The withdrawal method (default: the asset's first, e.g. Bitcoin).
        #[arg(long)]
        method: Option<String>,
        address: String,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        unverified: bool,
    },
    List {
        account: String,
    },
    Remove {
        account: String,
        key: String,
    },
}

pub fn chain(dir: &Path, cmd: ChainCmd) -> Result<i32, String> {
    let admin = Admin::find(dir)?;
    match cmd {
        ChainCmd::Deposit { address, amount, tag } => {
            let v = admin.post("/admin/chain/deposit", json!({ "address": address, "amount": amount, "tag": tag }))?;
            println!(
                "deposit {} of {amount} {} is Settled, waiting for confirmations",
                v["refid"].as_str().unwrap_or(""),
                v["asset"].as_str().unwrap_or("")
            );
        }
        ChainCmd::Fail { refid } => {
            admin.post("/admin/chain/fail", json!({ "refid": refid }))?;
            println!("{refid} failed");
        }
    }
    Ok(0)
}

pub fn address_book(dir: &Path, cmd: AddressBookCmd) -> Result<i32, String> {
    let admin = Admin::find(dir)?;
    match cmd {
        AddressBookCmd::Add { account, key, asset, method, address, tag, unverified } => {
            let body = json!({ "account": account, "key": key, "asset": asset, "method": method, "address": address, "tag": tag, "verified": !unverified });
            let v = admin.post("/admin/address-book", body)?;
            println!(
                "{account}: withdrawal key {key:?} ({}) {}",
                v["method"].as_str().unwrap_or(""),
                if unverified { "unverified" } else { "verified" }
            );
        }
        AddressBookCmd::List { account } => {
            let q = serde_urlencoded::to_string([("account", account.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/address-book?{q}"))?;
            for e in v["entries"].as_array().into_iter().flatten() {
                println!(
                    "{:<20} {:<6} {:<20} {} {}{}",
                    e["key"].as_str().unwrap_or(""),
                    e["asset"].as_str().unwrap_or(""),
                    e["method"].as_str().unwrap_or(""),
                    e["address"].as_str().unwrap_or(""),
                    e["tag"].as_str().map(|t| format!("tag {t} ")).unwrap_or_default(),
                    if e["verified"] == true { "verified" } else { "unverified" }
                );
            }
        }
        AddressBookCmd::Remove { account, key } => {
            admin.post("/admin/address-book/remove", json!({ "account": account, "key": key }))?;
            println!("removed {key:?} from {account}'s address book");
        }
    }
    Ok(0)
}

pub fn adjust(dir: &Path, account: &str, asset: &str, amount: &str, reason: &str) -> Result<i32, String> {
    let v = Admin::find(dir)?.post("/admin/adjust", json!({ "account": account, "asset": asset, "amount": amount, "reason": reason }))?;
    println!("adjusted {account} by {amount} {asset} (refid {})", v["refid"].as_str().unwrap_or(""));
    Ok(0)
}
