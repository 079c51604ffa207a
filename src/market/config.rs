//! The simulator's settings (`[market]` in the config file) and their integer form per pair.
//! Figures are decimal strings like the rest of the config: volatility, drift and jump size in
//! percent per day, spreads in basis points, sizes in USD (converted to base units at the pair's
//! reference price), times in seconds.

use crate::engine::markets::Markets;
use crate::engine::walk::WalkParams;
use crate::money::{div_ceil, parse_units, percent_to_ppm};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarketConfig {
    /// Run the simulator (`serve --market off` overrides).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seed of the market; the data directory's own id seed when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Simulated time per step, milliseconds.
    #[serde(default = "step_ms")]
    pub step_ms: u64,
    /// Steps run this many times faster than real time (accelerated runs).
    #[serde(default = "one")]
    pub speed: u64,
    /// Multiplies every pair's taker rate (and so trades and re-quotes).
    #[serde(default = "one")]
    pub rate: u64,
    #[serde(default)]
    pub defaults: PairMarketConfig,
    /// Per pair (altname), any field of `defaults`.
    #[serde(default)]
    pub pairs: BTreeMap<String, PairMarketConfig>,
}

fn yes() -> bool {
    true
}
fn step_ms() -> u64 {
    1000
}
fn one() -> u64 {
    1
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            enabled: true,
            seed: None,
            step_ms: 1000,
            speed: 1,
            rate: 1,
            defaults: PairMarketConfig::default(),
            pairs: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairMarketConfig {
    pub volatility: Option<String>,
    pub drift: Option<String>,
    pub jumps_per_day: Option<String>,
    pub jump: Option<String>,
    pub spread_bps: Option<String>,
    pub step_bps: Option<String>,
    pub levels: Option<u16>,
    pub level_usd: Option<String>,
    pub size_jitter: Option<String>,
    pub trade_every: Option<String>,
    pub trade_usd: Option<String>,
    /// Fewest seconds between two re-quotes of a pair when the ladder is still whole.
    pub requote_every: Option<String>,
}

/// One pair's simulator figures, in integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairParams {
    pub walk: WalkParams,
    pub spread_ppm: u32,
    pub step_ppm: u32,
    pub levels: u16,
    /// Mean level size and taker size, base minimal units.
    pub level_size: i128,
    pub jitter_ppm: u32,
    pub trade_every_ms: u64,
    pub trade_size: i128,
    pub requote_ms: u64,
}

fn pick<'a>(
    p: &'a PairMarketConfig,
    d: &'a PairMarketConfig,
    f: impl Fn(&'a PairMarketConfig) -> &'a Option<String>,
    default: &'a str,
) -> &'a str {
    f(p).as_deref().or(f(d).as_deref()).unwrap_or(default)
}

impl MarketConfig {
    /// Every configured pair's figures, in the markets' order; an error names the bad field.
    pub fn pair_params(&self, markets: &Markets) -> Result<Vec<PairParams>, String> {
        for name in self.pairs.keys() {
            if markets.pair_by_name(name).is_none() {
                return Err(format!("[market.pairs.{name}]: no such pair"));
            }
        }
        markets
            .pairs
            .iter()
            .map(|pair| {
                let own = self.pairs.iter().find(|(k, _)| markets.pair_by_name(k) == markets.pair_by_name(&pair.altname)).map(|(_, v)| v);
                let empty = PairMarketConfig::default();
                let p = own.unwrap_or(&empty);
                let d = &self.defaults;
                let bad = |what: &str| format!("[market] {}: bad {what}", pair.altname);
                let pct = |f: fn(&PairMarketConfig) -> &Option<String>, default: &str, what: &str| -> Result<i128, String> {
                    let text = pick(p, d, f, default);
                    let (neg, mag) = text.strip_prefix('-').map_or((false, text), |m| (true, m));
                    let v = percent_to_ppm(mag).ok_or_else(|| bad(what))?;
                    Ok(if neg { -v } else { v })
                };
                let bps = |f: fn(&PairMarketConfig) -> &Option<String>, default: &str, what: &str| -> Result<i128, String> {
                    parse_units(pick(p, d, f, default), 2).ok_or_else(|| bad(what))
                };
                let secs_ms = |f: fn(&PairMarketConfig) -> &Option<String>, default: &str, what: &str| -> Result<u64, String> {
                    parse_units(pick(p, d, f, default), 3).filter(|v| *v > 0).map(|v| v as u64).ok_or_else(|| bad(what))
                };
                // USD notional → base units at the reference price, on the lot step, at least ordermin.
                let lot = pair.lot_step();
                let min_volume = div_ceil(pair.ordermin.max(1), lot) * lot;
                let usd_to_base = |f: fn(&PairMarketConfig) -> &Option<String>, default: &str, what: &str| -> Result<i128, String> {
                    let usd = parse_units(pick(p, d, f, default), pair.quote_decimals).filter(|v| *v > 0).ok_or_else(|| bad(what))?;
                    // usd (quote units) / price (10^-pd) → base units: usd × 10^(pd + bd - qd) / price.
                    let base = usd * pair.cost_divisor / pair.reference_price.max(1) as i128;
                    Ok((base / lot * lot).max(min_volume))
                };
                let levels = p.levels.or(d.levels).unwrap_or(25);
                if levels == 0 || levels > crate::engine::ladder::MAX_LEVELS {
                    return Err(bad("levels"));
                }
                let spread = bps(|c| &c.spread_bps, "4", "spread_bps")?;
                Ok(PairParams {
                    walk: WalkParams {
                        vol_ppm: pct(|c| &c.volatility, "3", "volatility")?.max(0) as u32,
                        drift_ppm: pct(|c| &c.drift, "0", "drift")? as i32,
                        jumps_milli: parse_units(pick(p, d, |c| &c.jumps_per_day, "0.2"), 3).ok_or_else(|| bad("jumps_per_day"))? as u32,
                        jump_ppm: pct(|c| &c.jump, "1", "jump")?.max(0) as u32,
                    },
                    // Basis points parsed with two decimals are hundredths of a bp, i.e. ppm.
                    spread_ppm: spread.clamp(0, 500_000) as u32,
                    step_ppm: bps(|c| &c.step_bps, "2", "step_bps")?.clamp(0, 100_000) as u32,
                    levels,
                    level_size: usd_to_base(|c| &c.level_usd, "2500", "level_usd")?,
                    jitter_ppm: (pct(|c| &c.size_jitter, "40", "size_jitter")?.clamp(0, 990_000)) as u32,
                    trade_every_ms: secs_ms(|c| &c.trade_every, "5", "trade_every")?,
                    trade_size: usd_to_base(|c| &c.trade_usd, "1500", "trade_usd")?,
                    requote_ms: secs_ms(|c| &c.requote_every, "3", "requote_every")?,
                })
            })
            .collect()
    }
}
