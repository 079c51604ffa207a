//! What the limits are: verification tiers and the figures each tier gets, as configuration.
//! Two profiles ship: `kraken` (Kraken's published figures, the default) and `simple` (the plain
//! requests-per-second model some guides describe); `off` disables every limit (benchmarks).
//! Every figure can be overridden in the `[limits]` table of the config file.

use super::counter::{Rule, UNIT};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An account's verification tier, as Kraken names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Unverified,
    Starter,
    Intermediate,
    Pro,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Unverified, Tier::Starter, Tier::Intermediate, Tier::Pro];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Unverified => "unverified",
            Tier::Starter => "starter",
            Tier::Intermediate => "intermediate",
            Tier::Pro => "pro",
        }
    }

    /// Verified identity (intermediate or pro): what Withdraw Funds requires.
    pub fn is_verified(self) -> bool {
        matches!(self, Tier::Intermediate | Tier::Pro)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Tier, String> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown tier {s:?} (unverified, starter, intermediate, pro)"))
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerTier<T>([T; 4]);

impl<T: Copy> PerTier<T> {
    /// The same value for every tier.
    pub const fn all(v: T) -> PerTier<T> {
        PerTier([v; 4])
    }

    pub fn get(&self, t: Tier) -> T {
        self.0[t.index()]
    }
}

/// The named presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Kraken,
    Simple,
    Off,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kraken" => Ok(Profile::Kraken),
            "simple" => Ok(Profile::Simple),
            "off" => Ok(Profile::Off),
            _ => Err(format!("unknown limits profile {s:?} (kraken, simple, off)")),
        }
    }
}

/// Public endpoints, per client address: a draining counter, and optionally at most `calls`
/// per fixed window of `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicRule {
    pub rate: Rule,
    pub window: Option<(u64, u64)>,
}

/// The figures in force: the profile with the config's overrides applied.
#[derive(Debug, Clone)]
pub struct Policy {
    pub profile: Profile,
    /// The per-key REST call counter (None: no counter).
    pub rest: Option<PerTier<Rule>>,
    /// Cost of Ledgers, QueryLedgers, TradesHistory, QueryTrades on the REST counter.
    pub history_cost: u64,
    /// Cost of trading calls (AddOrder, Cancel*) on the REST counter: 0 on Kraken.
    pub trading_call_cost: u64,
    /// The matching engine's per-account, per-pair counter (threshold and decay).
    pub trading: Option<PerTier<Rule>>,
    /// Open orders per account and pair.
    pub open_orders: Option<PerTier<u32>>,
    /// Scheduled orders (`starttm`, not started yet) per account and pair.
    pub scheduled_orders: Option<PerTier<u32>>,
    pub public: Option<PublicRule>,
    /// Consecutive invalid key/signature/nonce answers from one address before a lockout (0: never).
    pub lockout_after: u32,
    pub lockout_secs: u64,
    /// Most client addresses tracked at once (public counters, failure counts).
    pub max_tracked_addresses: usize,
    /// Most requests of one key being answered at once before `EService:Throttled`.
    pub max_in_flight_per_key: u32,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// A counter rule as written in the config: calls and calls drained per second.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RuleConfig {
    pub max: f64,
    pub decay: f64,
}

impl RuleConfig {
    fn rule(&self, what: &str) -> Result<Rule, String> {
        if !(self.max.is_finite() && self.decay.is_finite() && self.max >= 0.0 && self.decay >= 0.0 && self.max <= 1e9 && self.decay <= 1e9)
        {
            return Err(format!("limits.{what}: max and decay must be between 0 and 1e9"));
        }
        Ok(Rule { max: (self.max * UNIT as f64).round() as u64, decay_per_sec: (self.decay * UNIT as f64).round() as u64 })
    }
}

/// Per-tier overrides as written in the config (any tier may be left out).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig<T> {
    pub unverified: Option<T>,
    pub starter: Option<T>,
    pub intermediate: Option<T>,
    pub pro: Option<T>,
}

impl<T: Copy> TierConfig<T> {
    fn apply<U: Copy>(&self, base: PerTier<U>, f: impl Fn(T) -> Result<U, String>) -> Result<PerTier<U>, String> {
        let mut out = base.0;
        for (i, v) in [self.unverified, self.starter, self.intermediate, self.pro].into_iter().enumerate() {
            if let Some(v) = v {
                out[i] = f(v)?;
            }
        }
        Ok(PerTier(out))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    pub max: Option<f64>,
    pub decay: Option<f64>,
    pub window_calls: Option<u64>,
    pub window_seconds: Option<u64>,
}

/// The `[limits]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(default)]
    pub profile: Profile,
    #[serde(default)]
    pub rest: Option<TierConfig<RuleConfig>>,
    pub history_cost: Option<u64>,
    pub trading_call_cost: Option<u64>,
    #[serde(default)]
    pub trading: Option<TierConfig<RuleConfig>>,
    #[serde(default)]
    pub open_orders: Option<TierConfig<u32>>,
    #[serde(default)]
    pub scheduled_orders: Option<TierConfig<u32>>,
    #[serde(default)]
    pub public: Option<PublicConfig>,
    pub lockout_after: Option<u32>,
    pub lockout_seconds: Option<u64>,
    pub max_tracked_addresses: Option<usize>,
    pub max_in_flight_per_key: Option<u32>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

const fn tiers<T: Copy>(unverified: T, starter: T, intermediate: T, pro: T) -> PerTier<T> {
    PerTier([unverified, starter, intermediate, pro])
}

impl Policy {
    /// A profile's figures with no overrides.
    pub fn preset(profile: Profile) -> Policy {
        let base = Policy {
            profile,
            rest: None,
            history_cost: UNIT,
            trading_call_cost: 0,
            trading: None,
            open_orders: None,
            scheduled_orders: None,
            public: None,
            lockout_after: 0,
            lockout_secs: 900,
            max_tracked_addresses: 100_000,
            max_in_flight_per_key: 16,
            trusted_proxies: Vec::new(),
        };
        match profile {
            // docs.kraken.com "Spot REST Rate Limits" and "Spot Trading Limits"; unverified
            // accounts get Starter's figures. Kraken publishes no public-endpoint figure ("about
            // one call a second per address"): a burst of 15 draining at 1/s is our estimate.
            Profile::Kraken => {
                let starter = Rule::calls(15, 330);
                let (trading_starter, open_starter) = (Rule::calls(60, 1000), 60);
                Policy {
                    rest: Some(tiers(starter, starter, Rule::calls(20, 500), Rule::calls(20, 1000))),
                    history_cost: 2 * UNIT,
                    trading: Some(tiers(trading_starter, trading_starter, Rule::calls(125, 2340), Rule::calls(180, 3750))),
                    open_orders: Some(tiers(open_starter, open_starter, 80, 225)),
                    // Scheduled orders: 15/25/40, the figures Kraken client crates carry beside
                    // the open-order caps (kraken_sdk_rest's MAX_SCHEDULED_ORDERS_COUNT_*).
                    scheduled_orders: Some(tiers(15, 15, 25, 40)),
                    public: Some(PublicRule { rate: Rule::calls(15, 1000), window: None }),
                    lockout_after: 10,
                    ..base
                }
            }
            // Public 15/s and 200 per 10 minutes per address; private 1/s unverified (and
            // starter), 20/s verified; every call costs 1; no engine limits.
            Profile::Simple => {
                let (slow, fast) = (Rule::calls(1, 1000), Rule::calls(20, 20_000));
                Policy {
                    rest: Some(tiers(slow, slow, fast, fast)),
                    trading_call_cost: UNIT,
                    public: Some(PublicRule { rate: Rule::calls(15, 15_000), window: Some((200, 600)) }),
                    lockout_after: 10,
                    ..base
                }
            }
            Profile::Off => Policy { max_in_flight_per_key: u32::MAX, ..base },
        }
    }

    /// The configured profile with its overrides; `profile` (from the command line) wins over
    /// the file's.
    pub fn from_config(cfg: &LimitsConfig, profile: Option<Profile>) -> Result<Policy, String> {
        let mut p = Policy::preset(profile.unwrap_or(cfg.profile));
        let starter_rule = Rule::calls(15, 330);
        if let Some(t) = &cfg.rest {
            p.rest = Some(t.apply(p.rest.unwrap_or(PerTier::all(starter_rule)), |r| r.rule("rest"))?);
        }
        if let Some(t) = &cfg.trading {
            let base = p.trading.unwrap_or(PerTier::all(Rule::calls(60, 1000)));
            p.trading = Some(t.apply(base, |r| r.rule("trading"))?);
        }
        if let Some(t) = &cfg.open_orders {
            p.open_orders = Some(t.apply(p.open_orders.unwrap_or(PerTier::all(u32::MAX)), Ok)?);
        }
        if let Some(t) = &cfg.scheduled_orders {
            p.scheduled_orders = Some(t.apply(p.scheduled_orders.unwrap_or(PerTier::all(u32::MAX)), Ok)?);
        }
        if let Some(c) = cfg.history_cost {
            p.history_cost = c.min(1000) * UNIT;
        }
        if let Some(c) = cfg.trading_call_cost {
            p.trading_call_cost = c.min(1000) * UNIT;
        }
        if let Some(pc) = &cfg.public {
            let mut rule = p.public.unwrap_or(PublicRule { rate: Rule::calls(15, 1000), window: None });
            let rc = RuleConfig {
                max: pc.max.unwrap_or(rule.rate.max as f64 / UNIT as f64),
                decay: pc.decay.unwrap_or(rule.rate.decay_per_sec as f64 / UNIT as f64),
            };
            rule.rate = rc.rule("public")?;
            match (pc.window_calls, pc.window_seconds) {
                (Some(n), Some(s)) if s > 0 => rule.window = Some((n, s)),
                (None, None) => {}
                _ => return Err("limits.public: window_calls and window_seconds (> 0) go together".into()),
            }
            p.public = Some(rule);
        }
        if let Some(n) = cfg.lockout_after {
            p.lockout_after = n;
        }
        if let Some(s) = cfg.lockout_seconds {
            p.lockout_secs = s;
        }
        if let Some(n) = cfg.max_tracked_addresses {
            p.max_tracked_addresses = n.max(16);
        }
        if let Some(n) = cfg.max_in_flight_per_key {
            p.max_in_flight_per_key = n.max(1);
        }
        for text in &cfg.trusted_proxies {
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("limits.trusted_proxies: {text:?} is not an address or CIDR block"))?;
            p.trusted_proxies.push(net);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krakens_published_figures() {
        let p = Policy::preset(Profile::Kraken);
        let rest = p.rest.unwrap();
        assert_eq!(rest.get(Tier::Unverified), Rule::calls(15, 330), "unverified accounts get Starter's figures");
        assert_eq!(rest.get(Tier::Starter), Rule::calls(15, 330));
        assert_eq!(rest.get(Tier::Intermediate), Rule::calls(20, 500));
        assert_eq!(rest.get(Tier::Pro), Rule::calls(20, 1000));
        let trading = p.trading.unwrap();
        assert_eq!(trading.get(Tier::Starter), Rule::calls(60, 1000));
        assert_eq!(trading.get(Tier::Intermediate), Rule::calls(125, 2340));
        assert_eq!(trading.get(Tier::Pro), Rule::calls(180, 3750));
        let open = p.open_orders.unwrap();
        assert_eq!(
            [open.get(Tier::Unverified), open.get(Tier::Starter), open.get(Tier::Intermediate), open.get(Tier::Pro)],
            [60, 60, 80, 225]
        );
        assert_eq!((p.history_cost, p.trading_call_cost), (2 * UNIT, 0));
    }

    #[test]
    fn simple_profile_and_overrides() {
        let p = Policy::preset(Profile::Simple);
        assert_eq!(p.rest.unwrap().get(Tier::Unverified), Rule::calls(1, 1000));
        assert_eq!(p.rest.unwrap().get(Tier::Intermediate), Rule::calls(20, 20_000));
        assert_eq!(p.public.unwrap().window, Some((200, 600)));
        assert!(p.trading.is_none() && p.open_orders.is_none());
        let cfg: LimitsConfig = toml::from_str(
            r#"
            profile = "kraken"
            history_cost = 3
            lockout_after = 4
            trusted_proxies = ["10.0.0.0/8", "::1"]
            rest = { pro = { max = 40, decay = 2.5 } }
            open_orders = { starter = 5 }
            public = { window_calls = 100, window_seconds = 60 }
            "#,
        )
        .unwrap();
        let p = Policy::from_config(&cfg, None).unwrap();
        assert_eq!(p.rest.unwrap().get(Tier::Pro), Rule { max: 40 * UNIT, decay_per_sec: 2_500_000 });
        assert_eq!(p.rest.unwrap().get(Tier::Starter), Rule::calls(15, 330), "others keep the profile's");
        assert_eq!(p.open_orders.unwrap().get(Tier::Starter), 5);
        assert_eq!((p.history_cost, p.lockout_after), (3 * UNIT, 4));
        assert_eq!(p.public.unwrap().window, Some((100, 60)));
        assert_eq!(p.trusted_proxies.len(), 2);
        let off = Policy::from_config(&cfg, Some(Profile::Off)).unwrap();
        assert!(off.trading.is_none(), "the command line's profile wins");
        assert!(off.rest.is_some() && off.public.is_some() && off.open_orders.is_some(), "the file's overrides still apply");
        let bad: LimitsConfig = toml::from_str(r#"trusted_proxies = ["nope"]"#).unwrap();
        assert!(Policy::from_config(&bad, None).is_err());
        assert!(toml::from_str::<LimitsConfig>("rest = { gold = { max = 1, decay = 1 } }").is_err());
    }

    #[test]
    fn tiers_parse_and_verification() {
        assert_eq!("Intermediate".parse::<Tier>(), Ok(Tier::Intermediate));
        assert!("gold".parse::<Tier>().is_err());
        assert_eq!(Tier::ALL.map(Tier::is_verified), [false, false, true, true]);
    }
}
