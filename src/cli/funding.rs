//! `calamari chain …`, `calamari address-book …` and `calamari adjust`: the operator's funding
//! commands, clients of the running server's admin interface (src/admin/funding.rs). Each prints
//! a line for a person, or the admin answer itself with `--json`.

use super::admin_client::{Admin, Target};
use super::Cmd;
use clap::Subcommand;
use serde_json::{json, Value};

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

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Runs `chain`, `address-book` or `adjust` against the server `target` finds.
pub fn run(target: &Target, as_json: bool, cmd: Cmd) -> Result<i32, String> {
    let admin = Admin::find(target)?;
    let (v, line) = match cmd {
        Cmd::Chain { action: ChainCmd::Deposit { address, amount, tag } } => {
            let v = admin.post("/admin/chain/deposit", json!({ "address": address, "amount": amount, "tag": tag }))?;
            let line = format!("deposit {} of {amount} {} is Settled, waiting for confirmations", s(&v["refid"]), s(&v["asset"]));
            (v, line)
        }
        Cmd::Chain { action: ChainCmd::Fail { refid } } => {
            (admin.post("/admin/chain/fail", json!({ "refid": refid }))?, format!("{refid} failed"))
        }
        Cmd::AddressBook { action: AddressBookCmd::Add { account, key, asset, method, address, tag, unverified } } => {
            let body = json!({ "account": account, "key": key, "asset": asset, "method": method, "address": address, "tag": tag, "verified": !unverified });
            let v = admin.post("/admin/address-book", body)?;
            let line =
                format!("{account}: withdrawal key {key:?} ({}) {}", s(&v["method"]), if unverified { "unverified" } else { "verified" });
            (v, line)
        }
        Cmd::AddressBook { action: AddressBookCmd::List { account } } => {
            let q = serde_urlencoded::to_string([("account", account.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/address-book?{q}"))?;
            let lines: Vec<String> = v["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let tag = e["tag"].as_str().map(|t| format!(" tag {t}")).unwrap_or_default();
                    let verified = if e["verified"] == true { "verified" } else { "unverified" };
                    format!("{:<20} {:<6} {:<20} {}{tag} {verified}", s(&e["key"]), s(&e["asset"]), s(&e["method"]), s(&e["address"]))
                })
                .collect();
            (v, lines.join("\n"))
        }
        Cmd::AddressBook { action: AddressBookCmd::Remove { account, key } } => {
            let v = admin.post("/admin/address-book/remove", json!({ "account": account, "key": key }))?;
            (v, format!("removed {key:?} from {account}'s address book"))
        }
        Cmd::Adjust { account, asset, amount, reason } => {
            let v = admin.post("/admin/adjust", json!({ "account": account, "asset": asset, "amount": amount, "reason": reason }))?;
            let line = format!("adjusted {account} by {amount} {asset} (refid {})", s(&v["refid"]));
            (v, line)
        }
        _ => unreachable!("not a funding command"),
    };
    if as_json {
        println!("{v}");
    } else if !line.is_empty() {
        println!("{line}");
    }
    Ok(0)
}
