//! Configuration: the markets (assets, pairs, fee schedule), the demo account and server
//! settings. Everything comes from one TOML file; `config/default.toml` is compiled in and is the
//! built-in default, so `calamari serve` works with no file at all.
//!
//! The asset and pair lists are append-only once a data directory holds state: the command log
//! refers to them by position, and start-up refuses a config whose lists are not an extension of
//! the ones the data directory was created with.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The built-in default configuration (Kraken's names and trading rules for fifteen USD pairs).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    /// Call restrictions: the `kraken` (default) or `simple` profile and any overrides.
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
    /// The request log's flood budget.
    #[serde(default)]
    pub log: crate::telemetry::request_log::LogConfig,
    /// The web console (`/console`): sign-up and what a new account starts with.
    #[serde(default)]
    pub console: ConsoleConfig,
    pub demo: DemoConfig,
    /// The simulated market (`[market]`).
    #[serde(default)]
    pub market: crate::market::config::MarketConfig,
    /// Withdrawal processing times and limits per tier.
    #[serde(default)]
    pub funding: FundingConfig,
    /// WebSocket bounds (`[ws]`): connections per address, request size and rate, queues.
    #[serde(default)]
    pub ws: crate::ws::limits::WsConfig,
    /// Engine checkpoints (`[storage]`): how often, how many kept.
    #[serde(default)]
    pub storage: crate::recovery::checkpointer::StorageConfig,
    pub fees: FeeSchedule,
    pub assets: Vec<AssetConfig>,
    pub pairs: Vec<PairConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Most commands the sequencer applies before handing a batch to storage.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
}

fn default_max_body() -> usize {
    64 * 1024
}
fn default_max_batch() -> usize {
    1024
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { max_body_bytes: default_max_body(), max_batch: default_max_batch() }
    }
}

/// The `[console]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsoleConfig {
    /// Whether anyone who reaches the console may create an account (the operator can still
    /// create accounts with `calamari account create` and give them a password).
    #[serde(default = "yes")]
    pub signup: bool,
    /// Opening balances of an account made by sign-up, as (asset, decimal amount): test money,
    /// credited as deposits (ledger entries) like the demo account's.
    #[serde(default)]
    pub signup_balances: Vec<(String, String)>,
    /// Consecutive failed log-ins to one account before it is locked, and for how long.
    #[serde(default = "default_login_failures")]
    pub lockout_after: u32,
    #[serde(default = "default_login_lockout")]
    pub lockout_secs: u64,
    /// A session ends after this many seconds without a request.
    #[serde(default = "default_idle")]
    pub session_idle_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_login_failures() -> u32 {
    5
}
fn default_login_lockout() -> u64 {
    900
}
fn default_idle() -> u64 {
    3600
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            signup: true,
            signup_balances: Vec::new(),
            lockout_after: default_login_failures(),
            lockout_secs: default_login_lockout(),
            session_idle_secs: default_idle(),
        }
    }
}

/// Withdrawals: how long each stage takes and how much each tier may withdraw (USD value at the
/// last price). Kraken publishes limits per verification level; these are Kraken-like defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FundingConfig {
    /// Seconds a withdrawal stays `Initial` (cancellable) before processing.
    pub withdraw_process_seconds: u32,
    /// Seconds from processing (`Pending`) to broadcast (`Settled`).
    pub withdraw_broadcast_seconds: u32,
    /// Daily and monthly limits in USD per tier (unverified and starter cannot withdraw).
    pub intermediate_daily_usd: u64,
    pub intermediate_monthly_usd: u64,
    pub pro_daily_usd: u64,
    pub pro_monthly_usd: u64,
}

impl Default for FundingConfig {
    fn default() -> Self {
        FundingConfig {
            withdraw_process_seconds: 60,
            withdraw_broadcast_seconds: 60,
            intermediate_daily_usd: 500_000,
            intermediate_monthly_usd: 5_000_000,
            pro_daily_usd: 10_000_000,
            pro_monthly_usd: 100_000_000,
        }
    }
}

impl FundingConfig {
    /// (daily, monthly) USD limits of a tier; (0, 0) for tiers that cannot withdraw.
    pub fn limits(&self, tier: crate::limits::Tier) -> (u64, u64) {
        use crate::limits::Tier::*;
        match tier {
            Intermediate => (self.intermediate_daily_usd, self.intermediate_monthly_usd),
            Pro => (self.pro_daily_usd, self.pro_monthly_usd),
            _ => (0, 0),
        }
    }
}

/// The account created on a data directory's first start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoConfig {
    pub account: String,
    /// The demo account's verification tier.
    #[serde(default = "demo_tier")]
    pub tier: crate::limits::Tier,
    /// Opening balances as (asset altname or id, decimal amount).
    pub balances: Vec<(String, String)>,
}

fn demo_tier() -> crate::limits::Tier {
    crate::limits::Tier::Intermediate
}

/// Kraken's volume-tiered fee schedule: `[30-day USD volume, percent]` rows, ascending.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub taker: Vec<(u64, String)>,
    pub maker: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetConfig {
    /// Kraken's asset id, e.g. `XXBT`.
    pub id: String,
    /// Kraken's altname, e.g. `XBT`.
    pub altname: String,
    /// Minimal unit: balances are integers of 10^-decimals.
    pub decimals: u32,
    pub display_decimals: u32,
    /// Other accepted spellings (e.g. `BTC`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Kraken's `collateral_value` in Assets (a decimal such as "1.0"), for the assets Kraken
    /// values as margin collateral; absent otherwise, as on Kraken.
    #[serde(default)]
    pub collateral_value: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairConfig {
    /// Kraken's pair key, e.g. `XXBTZUSD`.
    pub id: String,
    pub altname: String,
    pub wsname: String,
    /// Asset ids.
    pub base: String,
    pub quote: String,
    pub pair_decimals: u32,
    pub lot_decimals: u32,
    pub cost_decimals: u32,
    pub ordermin: String,
    pub costmin: String,
    pub tick_size: String,
    /// Reference price (decimal string) the market opens at.
    pub reference_price: String,
    /// 24-hour change in percent (decimal string, may be negative): gives today's open.
    pub change_24h_pct: String,
}

fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(b), toml::Value::Table(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

impl Config {
    pub fn builtin() -> Config {
        Config::from_toml(DEFAULT_TOML).expect("built-in config is valid")
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The built-in configuration with a file's values laid over it: tables merge key by key,
    /// anything else (arrays included) replaces, so a file holding only `[limits]` is complete.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, String> {
        match path {
            None => Ok(Config::builtin()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                Config::overlay(&text).map_err(|e| format!("{}: {e}", p.display()))
            }
        }
    }

    pub fn overlay(text: &str) -> Result<Config, String> {
        let mut base: toml::Value = toml::from_str(DEFAULT_TOML).map_err(|e| e.to_string())?;
        let top: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        merge(&mut base, top);
        let cfg: Config = base.try_into().map_err(|e: toml::de::Error| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the rules the engine relies on: unique names, known assets, lot decimals within the
    /// base asset's minimal unit, parsable minimums and prices.
    pub fn validate(&self) -> Result<(), String> {
        let mut names: HashMap<String, ()> = HashMap::new();
        for a in &self.assets {
            for n in std::iter::once(&a.id).chain(std::iter::once(&a.altname)).chain(a.aliases.iter()) {
                if names.insert(n.to_ascii_uppercase(), ()).is_some() && n != &a.id && n != &a.altname {
                    return Err(format!("asset name {n} used twice"));
                }
            }
            if a.decimals > 18 {
                return Err(format!("asset {}: decimals above 18", a.id));
            }
        }
        for p in &self.pairs {
            let base = self.assets.iter().find(|a| a.id == p.base).ok_or(format!("pair {}: unknown base {}", p.id, p.base))?;
            let quote = self.assets.iter().find(|a| a.id == p.quote).ok_or(format!("pair {}: unknown quote {}", p.id, p.quote))?;
            if p.lot_decimals > base.decimals {
                return Err(format!("pair {}: lot_decimals above {}'s decimals", p.id, base.id));
            }
            if p.pair_decimals > 12 || quote.decimals > 18 {
                return Err(format!("pair {}: too many decimals", p.id));
            }
        }
        crate::limits::Policy::from_config(&self.limits, None)?;
        self.ws.validate()?;
        if self.fees.taker.is_empty() || self.fees.maker.is_empty() {
            return Err("fee schedule is empty".into());
        }
        // The integer view checks every number against its decimals.
        let markets = crate::engine::markets::Markets::from_config(self)?;
        self.market.pair_params(&markets).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ws_table_overlays_its_defaults_and_is_checked() {
        let cfg = Config::overlay("[ws]\nmax_connections_per_address = 3\n").unwrap();
        assert_eq!(cfg.ws.max_connections_per_address, 3);
        assert_eq!(cfg.ws.messages_per_second, crate::ws::limits::WsConfig::default().messages_per_second);
        assert_eq!(Config::overlay("").unwrap().ws, crate::ws::limits::WsConfig::default(), "default.toml states the defaults");
        assert!(Config::overlay("[ws]\nmessages_per_second = 0\n").unwrap_err().contains("ws.messages_per_second"));
        assert!(Config::overlay("[ws]\nbogus = 1\n").is_err());
    }

    #[test]
    fn a_file_with_only_limits_keeps_the_builtin_markets() {
        let cfg = Config::overlay("[limits]\nprofile = \"simple\"\nopen_orders = { starter = 5 }\n").unwrap();
        assert_eq!(cfg.limits.profile, crate::limits::Profile::Simple);
        assert_eq!(cfg.pairs.len(), Config::builtin().pairs.len());
        assert_eq!(cfg.demo.tier, crate::limits::Tier::Intermediate);
        let cfg = Config::overlay("[demo]\nbalances = [[\"USD\", \"5\"]]\n").unwrap();
        assert_eq!((cfg.demo.account.as_str(), cfg.demo.balances.len()), ("demo", 1), "tables merge, arrays replace");
        assert!(Config::overlay("[limits]\nprofile = \"gold\"\n").is_err());
        assert!(Config::overlay("[limits]\ntrusted_proxies = [\"x\"]\n").unwrap_err().contains("trusted_proxies"));
    }
}
