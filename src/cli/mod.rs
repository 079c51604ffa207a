//! The `calamari` command line: `serve` runs the exchange; `account`, `key` and `deposit` are
//! clients of a running server's admin interface (found through the data directory's
//! `server.json` and `admin.token`, never by opening its database); `call` is a signed Kraken
//! client for any endpoint, with the key and secret from the environment.

mod admin_client;
mod call;
mod funding;

use admin_client::Admin;
use call::call;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "calamari", version, about = "A Kraken-compatible spot exchange for testing trading bots")]
pub struct Cli {
    /// Where the server keeps its state (and where the CLI finds a running server).
    #[arg(long, global = true, env = "CALAMARI_DATA_DIR", default_value = "./calamari-data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the exchange.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// TOML configuration (markets, fees, demo account, limits); the built-in default otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Call-restriction profile, overriding the config's: kraken, simple or off.
        #[arg(long)]
        limits: Option<crate::limits::Profile>,
    },
    /// Accounts.
    Account {
        #[command(subcommand)]
        action: AccountCmd,
    },
    /// API keys.
    Key {
        #[command(subcommand)]
        action: KeyCmd,
    },
    /// Credit an account from outside the exchange.
    Deposit {
        #[arg(long)]
        account: String,
        /// Asset altname or id (USD or ZUSD, XBT or XXBT).
        asset: String,
        amount: String,
    },
    /// The chain outside the exchange: deposits arriving on addresses, failures.
    Chain {
        #[command(subcommand)]
        action: funding::ChainCmd,
    },
    /// Accounts' address books (Kraken's withdrawal keys).
    AddressBook {
        #[command(subcommand)]
        action: funding::AddressBookCmd,
    },
    /// Book an operator's correction: an `adjustment` ledger entry (AMOUNT may be negative).
    Adjust {
        account: String,
        asset: String,
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Check the running server's books: conservation, holds, order books.
    Audit,
    /// Offline: replay the data directory's command log into a fresh engine (no server needed)
    /// and print the record count, the state digest and the invariant check, as JSON.
    Replay {
        /// The configuration the server runs with (markets); the built-in default otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show the call-restriction counters of an account or key: level, ceiling, drain time.
    Limits {
        /// Account name or API key.
        who: String,
        #[arg(long)]
        json: bool,
    },
    /// List temporary lockouts, or lift one.
    Lockouts {
        /// Lift the lockout of this address.
        #[arg(long)]
        lift: Option<String>,
    },
    /// A signed call to any Kraken endpoint (KRAKEN_API_KEY / KRAKEN_API_SECRET for private ones).
    Call {
        method: String,
        /// Parameters as key=value.
        params: Vec<String>,
        #[arg(long, env = "CALAMARI_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    Create {
        name: String,
    },
    /// Set the verification tier: unverified, starter, intermediate or pro.
    Tier {
        name: String,
        tier: String,
    },
}

/// A key's settings, as on Kraken's key page.
#[derive(clap::Args, Debug, Default)]
pub struct KeySettingsArgs {
    /// Accept a nonce up to this much below the highest seen (once).
    #[arg(long, default_value_t = 0)]
    pub nonce_window: u64,
    /// Unix time after which the key is refused.
    #[arg(long, default_value_t = 0)]
    pub valid_until: i64,
    /// History endpoints see only records from this unix time on.
    #[arg(long, default_value_t = 0)]
    pub query_from: i64,
    /// … and up to this unix time.
    #[arg(long, default_value_t = 0)]
    pub query_to: i64,
    /// Allowed client address or CIDR block (repeatable); any address if none.
    #[arg(long = "ip")]
    pub ip_allowlist: Vec<String>,
    /// A static 2FA password, sent by the client as `otp`.
    #[arg(long)]
    pub otp_password: Option<String>,
    /// Generate a TOTP secret (RFC 6238); its base32 form is printed once.
    #[arg(long)]
    pub otp_totp: bool,
}

impl KeySettingsArgs {
    /// The admin request's settings, and the TOTP secret to show (if one was generated).
    fn to_request(&self) -> (Value, Option<String>) {
        let totp = self.otp_totp.then(|| crate::limits::second_factor::to_base32(&rand::random::<[u8; 20]>()));
        let v = json!({
            "nonce_window": self.nonce_window,
            "valid_until": self.valid_until,
            "query_from": self.query_from,
            "query_to": self.query_to,
            "ip_allowlist": self.ip_allowlist,
            "otp_password": self.otp_password,
            "otp_totp": totp,
        });
        (v, totp)
    }
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create a key; its secret is printed once.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: String,
        /// `all`, `none`, or a comma list of Kraken's permission names (e.g. "Query Funds,Create & Modify Orders").
        #[arg(long)]
        permissions: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        settings: KeySettingsArgs,
    },
    /// Replace a key's settings (nonce window, expiry, query window, IP allowlist, 2FA).
    Set {
        key: String,
        #[command(flatten)]
        settings: KeySettingsArgs,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Revoke {
        key: String,
    },
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, String> {
    match cli.command {
        Cmd::Serve { listen, config, limits } => {
            let config = crate::config::Config::load(config.as_deref())?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(crate::server::serve(&cli.data_dir, listen, config, limits))?;
            Ok(0)
        }
        Cmd::Account { action: AccountCmd::Tier { name, tier } } => {
            let v = Admin::find(&cli.data_dir)?.post("/admin/accounts/tier", json!({ "account": name, "tier": tier }))?;
            println!("account {name} is now {}", v["tier"].as_str().unwrap_or(""));
            Ok(0)
        }
        Cmd::Key { action: KeyCmd::Set { key, settings } } => {
            let (body, totp) = settings.to_request();
            let v = Admin::find(&cli.data_dir)?.post("/admin/keys/settings", json!({ "key": key, "settings": body }))?;
            println!("{}", v["settings"]);
            print_totp(totp.as_deref());
            Ok(0)
        }
        Cmd::Limits { who, json } => {
            let q = serde_urlencoded::to_string([("who", who.as_str())]).map_err(|e| e.to_string())?;
            let v = Admin::find(&cli.data_dir)?.get(&format!("/admin/limits?{q}"))?;
            if json {
                println!("{v}");
            } else {
                print_limits(&v);
            }
            Ok(0)
        }
        Cmd::Lockouts { lift: Some(address) } => {
            let v = Admin::find(&cli.data_dir)?.post("/admin/lockouts/lift", json!({ "address": address }))?;
            println!("{}", if v["lifted"] == true { "lifted" } else { "that address was not locked out" });
            Ok(0)
        }
        Cmd::Lockouts { lift: None } => {
            let v = Admin::find(&cli.data_dir)?.get("/admin/lockouts")?;
            let list = v["lockouts"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no lockouts ({} addresses tracked)", v["tracked_addresses"]);
            }
            for l in list {
                println!("{}  locked for {} more seconds (until {})", l["address"].as_str().unwrap_or(""), l["seconds_left"], l["until"]);
            }
            Ok(0)
        }
        Cmd::Account { action: AccountCmd::Create { name } } => {
            let v = Admin::find(&cli.data_dir)?.post("/admin/accounts", json!({ "name": name }))?;
            println!("created account {} (id {})", v["account"].as_str().unwrap_or(""), v["id"]);
            Ok(0)
        }
        Cmd::Key { action: KeyCmd::Create { account, name, permissions, json, settings } } => {
            let (settings, totp) = settings.to_request();
            let body = json!({ "account": account, "name": name, "permissions": permissions, "settings": settings });
            let mut v = Admin::find(&cli.data_dir)?.post("/admin/keys", body)?;
            if json {
                if let Some(t) = &totp {
                    v["totp_secret"] = json!(t);
                }
                println!("{v}");
            } else {
                print_totp(totp.as_deref());
                println!("API key:     {}", v["key"].as_str().unwrap_or(""));
                println!("API secret:  {}", v["secret"].as_str().unwrap_or(""));
                println!(
                    "Permissions: {}",
                    v["permissions"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                );
                println!("The secret is shown only now; it is stored encrypted.");
            }
            Ok(0)
        }
        Cmd::Key { action: KeyCmd::List { json } } => {
            let v = Admin::find(&cli.data_dir)?.get("/admin/keys")?;
            if json {
                println!("{v}");
            } else {
                for k in v["keys"].as_array().into_iter().flatten() {
                    let perms: Vec<&str> = k["permissions"].as_array().into_iter().flatten().filter_map(|p| p.as_str()).collect();
                    println!(
                        "{}  account={}  name={}  permissions={}",
                        k["key"].as_str().unwrap_or(""),
                        k["account"].as_str().unwrap_or(""),
                        k["name"].as_str().unwrap_or(""),
                        perms.join(", ")
                    );
                }
            }
            Ok(0)
        }
        Cmd::Key { action: KeyCmd::Revoke { key } } => {
            let v = Admin::find(&cli.data_dir)?.post("/admin/keys/revoke", json!({ "key": key }))?;
            println!("{}", if v["revoked"] == true { "revoked" } else { "no live key with that name" });
            Ok(0)
        }
        Cmd::Deposit { account, asset, amount } => {
            let v = Admin::find(&cli.data_dir)?.post("/admin/deposits", json!({ "account": account, "asset": asset, "amount": amount }))?;
            println!("deposited {amount} {asset} to {account} (refid {})", v["refid"].as_str().unwrap_or(""));
            Ok(0)
        }
        Cmd::Audit => {
            let v = Admin::find(&cli.data_dir)?.get("/admin/audit")?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(if v["ok"] == true { 0 } else { 1 })
        }
        Cmd::Replay { config } => {
            let config = crate::config::Config::load(config.as_deref())?;
            let r = crate::recovery::replay_data_dir(&cli.data_dir, &config)?;
            let out = json!({
                "records": r.records,
                "digest": r.digest,
                "ok": r.invariants.is_ok(),
                "problem": r.invariants.as_ref().err(),
                "orders": r.orders,
                "ledger_entries": r.ledger_entries,
            });
            println!("{out}");
            Ok(if r.invariants.is_ok() { 0 } else { 1 })
        }
        Cmd::Call { method, params, url } => call(&url, &method, &params),
        Cmd::Chain { action } => funding::chain(&cli.data_dir, action),
        Cmd::AddressBook { action } => funding::address_book(&cli.data_dir, action),
        Cmd::Adjust { account, asset, amount, reason } => funding::adjust(&cli.data_dir, &account, &asset, &amount, &reason),
    }
}

fn print_totp(secret: Option<&str>) {
    if let Some(t) = secret {
        println!("TOTP secret: {t}   (add it to an authenticator app; send its code as `otp`; shown only now)");
    }
}

fn print_limits(v: &Value) {
    println!("account id {}  tier {}  profile {}", v["account_id"], v["tier"].as_str().unwrap_or(""), v["profile"].as_str().unwrap_or(""));
    if !v["open_orders_per_pair"].is_null() {
        println!("open orders per pair: at most {}", v["open_orders_per_pair"]);
    }
    for c in v["counters"].as_array().into_iter().flatten() {
        println!(
            "{:<40} {:>8.2} of {:<8.2} drains {:.2}/s, empty in {:.1} s",
            c["name"].as_str().unwrap_or(""),
            c["level"].as_f64().unwrap_or(0.0),
            c["max"].as_f64().unwrap_or(0.0),
            c["decay_per_sec"].as_f64().unwrap_or(0.0),
            c["drains_in_secs"].as_f64().unwrap_or(0.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_commands() {
        let c = Cli::try_parse_from([
            "calamari",
            "--data-dir",
            "/tmp/x",
            "key",
            "create",
            "--account",
            "a",
            "--name",
            "k",
            "--permissions",
            "all",
            "--json",
        ])
        .unwrap();
        assert!(matches!(c.command, Cmd::Key { action: KeyCmd::Create { json: true, .. } }));
        let c = Cli::try_parse_from(["calamari", "deposit", "--account", "a", "USD", "100"]).unwrap();
        assert!(matches!(c.command, Cmd::Deposit { .. }));
        let c = Cli::try_parse_from(["calamari", "call", "AddOrder", "pair=XBTUSD", "type=buy"]).unwrap();
        assert!(matches!(c.command, Cmd::Call { ref params, .. } if params.len() == 2));
        assert!(call::parse_params(&["novalue".to_string()]).is_err());
        let c = Cli::try_parse_from(["calamari", "account", "tier", "alice", "pro"]).unwrap();
        assert!(matches!(c.command, Cmd::Account { action: AccountCmd::Tier { ref tier, .. } } if tier == "pro"));
        let c = Cli::try_parse_from(["calamari", "serve", "--limits", "simple"]).unwrap();
        assert!(matches!(c.command, Cmd::Serve { limits: Some(crate::limits::Profile::Simple), .. }));
        assert!(Cli::try_parse_from(["calamari", "serve", "--limits", "gold"]).is_err());
        let c =
            Cli::try_parse_from(["calamari", "key", "set", "K", "--ip", "10.0.0.0/8", "--ip", "::1", "--nonce-window", "5", "--otp-totp"])
                .unwrap();
        let Cmd::Key { action: KeyCmd::Set { settings, .. } } = c.command else { panic!("key set") };
        let (body, totp) = settings.to_request();
        assert_eq!((body["ip_allowlist"].as_array().unwrap().len(), body["nonce_window"].as_u64()), (2, Some(5)));
        assert_eq!(totp.as_deref().map(str::len), Some(32), "20 random bytes in base32");
        let c = Cli::try_parse_from(["calamari", "lockouts", "--lift", "203.0.113.9"]).unwrap();
        assert!(matches!(c.command, Cmd::Lockouts { lift: Some(_) }));
        assert!(matches!(Cli::try_parse_from(["calamari", "limits", "alice", "--json"]).unwrap().command, Cmd::Limits { json: true, .. }));
    }
}
