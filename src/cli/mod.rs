//! The `calamari` command line: `serve` runs the exchange; `account`, `key`, `deposit`, `limits`,
//! `lockouts` and `audit` are clients of a running server's admin interface (found through
//! `--data-dir` / `CALAMARI_DATA_DIR` or `--server URL` with its token file, never by opening its
//! database); `replay` reads a data directory offline; `call` is a signed Kraken client for any
//! endpoint, with the key and secret from the environment. Every command takes `--json` and ends
//! with exit code 1 and one line on error.

mod admin_client;
mod call;
mod console;
mod funding;
mod log;
mod market;
mod market_status;
mod operator;

pub use admin_client::Target;
use call::call;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "calamari", version, about = "A Kraken-compatible spot exchange for testing trading bots")]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    /// Print the answer as JSON (one object) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
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
        /// The simulated market: on (the default, or as the config says) or off for a quiet
        /// exchange with only the users' own orders.
        #[arg(long, env = "CALAMARI_MARKET", value_parser = ["on", "off"])]
        market: Option<String>,
        /// Log lines (stderr) as text or as one JSON object a line (RUST_LOG sets the level).
        #[arg(long, env = "CALAMARI_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
        log_format: crate::telemetry::LogFormat,
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
        /// The state at this engine time (ns; `now_ns` of `calamari audit`): leave out records
        /// stamped later, and apply the funding transitions and timers due by then, as the running
        /// server does on its own clock.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Show the call-restriction counters of an account or key: level, ceiling, drain time.
    Limits {
        /// Account name or API key.
        who: String,
    },
    /// List temporary lockouts, or lift one.
    Lockouts {
        /// Lift the lockout of this address.
        #[arg(long)]
        lift: Option<String>,
    },
    /// The simulated market: show a pair, switch it on or off, replay imported history, export.
    Market {
        #[command(subcommand)]
        action: market::MarketCmd,
    },
    /// Load Kraken's OHLCVT or time-and-sales CSV file as a pair's history.
    Import(market::ImportArgs),
    /// Return the exchange to its initial state (after confirmation, or with --yes).
    Reset(market::ResetArgs),
    /// Keep or bring back the whole state under a name.
    Snapshot {
        #[command(subcommand)]
        action: market::SnapshotCmd,
    },
    /// The command log and its engine checkpoints: status, checkpoint now, prune.
    Log {
        #[command(subcommand)]
        action: log::LogCmd,
    },
    /// A signed call to any Kraken endpoint (KRAKEN_API_KEY / KRAKEN_API_SECRET for private ones).
    Call {
        method: String,
        /// Parameters as key=value.
        params: Vec<String>,
        /// The server's URL; by default the one the data directory's server records, else
        /// http://127.0.0.1:8080.
        #[arg(long, env = "CALAMARI_URL")]
        url: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    Create {
        name: String,
    },
    /// Every account: tier, live keys, open orders.
    List,
    /// One account: tier, balances with holds, open orders, keys.
    Show {
        name: String,
    },
    /// Set the verification tier: unverified, starter, intermediate or pro.
    Tier {
        name: String,
        tier: String,
    },
    /// Set the web console password of an account (read from standard input, one line; logs the
    /// account's console sessions out).
    Password {
        name: String,
    },
}

/// A key's settings, as on Kraken's key page.
#[derive(clap::Args, Debug, Default, PartialEq, Eq)]
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
    pub(crate) fn to_request(&self) -> (Value, Option<String>) {
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
        /// Print `export KRAKEN_API_KEY=… KRAKEN_API_SECRET=…` for the shell's `eval`.
        #[arg(long, conflicts_with = "json")]
        env: bool,
        #[command(flatten)]
        settings: KeySettingsArgs,
    },
    /// Change a key as Kraken's key edit page does: `--permissions` alone replaces its
    /// permissions; settings flags (or none at all) replace its settings.
    Set {
        key: String,
        /// `all`, `none`, or a comma list of Kraken's permission names.
        #[arg(long)]
        permissions: Option<String>,
        #[command(flatten)]
        settings: KeySettingsArgs,
    },
    /// One key: account, name, permissions, settings (never the secret).
    Show {
        key: String,
    },
    /// Every live key.
    List,
    Revoke {
        key: String,
    },
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, String> {
    let Cli { target, json, command } = cli;
    match command {
        Cmd::Serve { listen, config, limits, market, .. } => {
            let mut config = crate::config::Config::load(config.as_deref())?;
            if let Some(m) = market {
                config.market.enabled = m == "on";
            }
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(crate::server::serve(&target.data_dir, listen, config, limits))?;
            Ok(0)
        }
        Cmd::Replay { config, at } => {
            let config = crate::config::Config::load(config.as_deref())?;
            let r = crate::recovery::replay_data_dir(&target.data_dir, &config, at)?;
            let out = json!({
                "records": r.records,
                "digest": r.digest,
                "ok": r.invariants.is_ok(),
                "problem": r.invariants.as_ref().err(),
                "orders": r.orders,
                "ledger_entries": r.ledger_entries,
                "checkpoint": r.checkpoint,
            });
            println!("{out}");
            Ok(if r.invariants.is_ok() { 0 } else { 1 })
        }
        Cmd::Call { method, params, url } => {
            let url = url.or_else(|| target.server.clone()).unwrap_or_else(|| admin_client::recorded_url(&target.data_dir));
            call(&url, &method, &params)
        }
        Cmd::Log { action } => log::run(&target, json, action),
        cmd @ (Cmd::Chain { .. } | Cmd::AddressBook { .. } | Cmd::Adjust { .. }) => funding::run(&target, json, cmd),
        c @ (Cmd::Market { .. } | Cmd::Import(_) | Cmd::Reset(_) | Cmd::Snapshot { .. }) => market::run(&target, json, c),
        other => operator::run(&target, json, other),
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
        assert!(c.json && matches!(c.command, Cmd::Key { action: KeyCmd::Create { .. } }));
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
        let c = Cli::try_parse_from(["calamari", "serve", "--log-format", "json"]).unwrap();
        assert!(matches!(c.command, Cmd::Serve { log_format: crate::telemetry::LogFormat::Json, .. }));
        assert!(Cli::try_parse_from(["calamari", "serve", "--log-format", "xml"]).is_err());
        let c =
            Cli::try_parse_from(["calamari", "key", "set", "K", "--ip", "10.0.0.0/8", "--ip", "::1", "--nonce-window", "5", "--otp-totp"])
                .unwrap();
        let Cmd::Key { action: KeyCmd::Set { settings, .. } } = c.command else { panic!("key set") };
        let (body, totp) = settings.to_request();
        assert_eq!((body["ip_allowlist"].as_array().unwrap().len(), body["nonce_window"].as_u64()), (2, Some(5)));
        assert_eq!(totp.as_deref().map(str::len), Some(32), "20 random bytes in base32");
        let c = Cli::try_parse_from(["calamari", "lockouts", "--lift", "203.0.113.9"]).unwrap();
        assert!(matches!(c.command, Cmd::Lockouts { lift: Some(_) }));
        let c = Cli::try_parse_from(["calamari", "limits", "alice", "--json"]).unwrap();
        assert!(c.json && matches!(c.command, Cmd::Limits { .. }));
        // Every command finds its server by --server URL and a token file as well as by --data-dir.
        let c = Cli::try_parse_from(["calamari", "account", "show", "alice", "--server", "http://127.0.0.1:9", "--admin-token-file", "/t"])
            .unwrap();
        assert_eq!(c.target.server.as_deref(), Some("http://127.0.0.1:9"));
        assert!(matches!(c.command, Cmd::Account { action: AccountCmd::Show { .. } }));
        let c = Cli::try_parse_from(["calamari", "key", "set", "K", "--permissions", "Query Funds"]).unwrap();
        let Cmd::Key { action: KeyCmd::Set { permissions, settings, .. } } = c.command else { panic!("key set") };
        assert_eq!((permissions.as_deref(), settings == KeySettingsArgs::default()), (Some("Query Funds"), true));
        assert!(Cli::try_parse_from([
            "calamari",
            "key",
            "create",
            "--account",
            "a",
            "--name",
            "k",
            "--permissions",
            "all",
            "--env",
            "--json"
        ])
        .is_err());
    }
}
