//! The static trading rules the engine runs on: assets, pairs and the fee schedule, converted
//! once from [`Config`] into integers (minimal units, price ticks, parts per million), with the
//! name lookups Kraken's API needs (id, altname, wsname, aliases, any case).

use crate::config::Config;
use crate::money::{parse_units, percent_to_ppm};
use std::collections::HashMap;

pub type AssetIdx = u16;
pub type PairIdx = u16;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Asset {
    pub id: String,
    pub altname: String,
    pub decimals: u32,
    pub display_decimals: u32,
    /// Kraken's `collateral_value` as configured ("1.0"), printed as a JSON number; none for most.
    pub collateral_value: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pair {
    pub id: String,
    pub altname: String,
    pub wsname: String,
    pub base: AssetIdx,
    pub quote: AssetIdx,
    /// Prices are integer ticks of 10^-pair_decimals quote per base.
    pub pair_decimals: u32,
    pub lot_decimals: u32,
    pub cost_decimals: u32,
    /// Base and quote minimal units (copied from the assets).
    pub base_decimals: u32,
    pub quote_decimals: u32,
    pub ordermin: i128,
    pub costmin: i128,
    pub tick: u64,
    pub ordermin_text: String,
    pub costmin_text: String,
    pub tick_text: String,
    pub reference_price: u64,
    /// Today's opening price before any trade: reference / (1 + change).
    pub open_price: u64,
    /// price (10^-pd) × volume (10^-bd) is quote in units of 10^-(pd+bd); this many of those
    /// make one quote minimal unit.
    pub cost_divisor: i128,
    /// How many units of 10^-(pd+bd) make one unit of 10^-cost_decimals, and how many of those
    /// make one quote minimal unit (cost_divisor = to_cost_decimals × cost_to_quote).
    pub to_cost_decimals: i128,
    pub cost_to_quote: i128,
}

impl Pair {
    /// Exact product of a price and a volume, in units of 10^-(pd+bd) quote.
    pub fn exact_cost(&self, price: u64, volume: i128) -> i128 {
        price as i128 * volume
    }
    /// Volume step of the pair in base minimal units (10^(bd - lot_decimals)).
    pub fn lot_step(&self) -> i128 {
        POW10[(self.base_decimals - self.lot_decimals) as usize]
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FeeTier {
    pub volume: i128,
    pub ppm: i128,
}

/// 10^0 … 10^38: a lot step is read for every order placed (a table instead of `pow`'s loop).
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Markets {
    pub assets: Vec<Asset>,
    pub pairs: Vec<Pair>,
    pub taker_fees: Vec<FeeTier>,
    pub maker_fees: Vec<FeeTier>,
    /// The asset fee tiers are counted in (USD).
    pub fee_volume_asset: AssetIdx,
    /// How much of each pair's public tape the engine keeps (`market_data`).
    pub tape: super::market_data::TapeBound,
    asset_names: HashMap<String, AssetIdx>,
    pair_names: HashMap<String, PairIdx>,
    /// `max_taker_ppm`, worked out once (every order's hold reads it): not state, the fee
    /// schedule is fixed once the markets are built.
    #[serde(skip)]
    max_taker: std::sync::OnceLock<i128>,
}

impl Markets {
    pub fn from_config(cfg: &Config) -> Result<Markets, String> {
        let mut assets = Vec::new();
        let mut asset_names = HashMap::new();
        for (i, a) in cfg.assets.iter().enumerate() {
            if a.collateral_value.as_deref().is_some_and(|v| parse_units(v, 4).is_none()) {
                return Err(format!("asset {}: bad collateral_value", a.id));
            }
            assets.push(Asset {
                id: a.id.clone(),
                altname: a.altname.clone(),
                decimals: a.decimals,
                display_decimals: a.display_decimals,
                collateral_value: a.collateral_value.clone(),
            });
            for n in std::iter::once(&a.id).chain(std::iter::once(&a.altname)).chain(a.aliases.iter()) {
                asset_names.insert(n.to_ascii_uppercase(), i as AssetIdx);
            }
        }
        let find = |id: &str| assets.iter().position(|a: &Asset| a.id == id).map(|i| i as AssetIdx);
        let mut pairs = Vec::new();
        let mut pair_names = HashMap::new();
        for (i, p) in cfg.pairs.iter().enumerate() {
            let base = find(&p.base).ok_or("unknown base")?;
            let quote = find(&p.quote).ok_or("unknown quote")?;
            let bd = assets[base as usize].decimals;
            let qd = assets[quote as usize].decimals;
            if p.pair_decimals + bd < p.cost_decimals || p.cost_decimals < qd || p.cost_decimals < p.pair_decimals {
                // A trade's exact cost is rounded to cost_decimals, then to the quote's decimals;
                // public prices are printed at cost_decimals, so it holds every price tick too.
                return Err(format!(
                    "pair {}: cost_decimals must be at least the quote's decimals and pair_decimals, at most pair + base decimals",
                    p.id
                ));
            }
            let bad = |what: &str| format!("pair {}: bad {what}", p.id);
            let reference_price = parse_units(&p.reference_price, p.pair_decimals).ok_or_else(|| bad("reference_price"))? as u64;
            let change = p.change_24h_pct.trim();
            let (neg, mag) = match change.strip_prefix('-') {
                Some(m) => (true, m),
                None => (false, change.strip_prefix('+').unwrap_or(change)),
            };
            let ppm = percent_to_ppm(mag).ok_or_else(|| bad("change_24h_pct"))?;
            let factor = if neg { 1_000_000 - ppm } else { 1_000_000 + ppm };
            let open_price = if factor <= 0 {
                reference_price
            } else {
                crate::money::div_round_half_up(reference_price as i128 * 1_000_000, factor) as u64
            };
            let tick = parse_units(&p.tick_size, p.pair_decimals).ok_or_else(|| bad("tick_size"))? as u64;
            if tick == 0 {
                return Err(bad("tick_size"));
            }
            pairs.push(Pair {
                id: p.id.clone(),
                altname: p.altname.clone(),
                wsname: p.wsname.clone(),
                base,
                quote,
                pair_decimals: p.pair_decimals,
                lot_decimals: p.lot_decimals,
                cost_decimals: p.cost_decimals,
                base_decimals: bd,
                quote_decimals: qd,
                ordermin: parse_units(&p.ordermin, bd).ok_or_else(|| bad("ordermin"))?,
                costmin: parse_units(&p.costmin, qd).ok_or_else(|| bad("costmin"))?,
                tick,
                ordermin_text: p.ordermin.clone(),
                costmin_text: p.costmin.clone(),
                tick_text: p.tick_size.clone(),
                reference_price,
                open_price,
                cost_divisor: 10i128.pow(p.pair_decimals + bd - qd),
                to_cost_decimals: 10i128.pow(p.pair_decimals + bd - p.cost_decimals),
                cost_to_quote: 10i128.pow(p.cost_decimals - qd),
            });
            let idx = i as PairIdx;
            pair_names.insert(p.id.to_ascii_uppercase(), idx);
            pair_names.insert(p.altname.to_ascii_uppercase(), idx);
            pair_names.insert(p.wsname.to_ascii_uppercase(), idx);
            // Also BTC/USD-style spellings built from every name of both assets.
            let names_of = |a: AssetIdx| -> Vec<String> {
                cfg.assets[a as usize]
                    .aliases
                    .iter()
                    .chain([&cfg.assets[a as usize].altname, &cfg.assets[a as usize].id])
                    .map(|s| s.to_ascii_uppercase())
                    .collect()
            };
            for b in names_of(base) {
                for q in names_of(quote) {
                    pair_names.entry(format!("{b}/{q}")).or_insert(idx);
                    pair_names.entry(format!("{b}{q}")).or_insert(idx);
                }
            }
        }
        let tiers = |rows: &[(u64, String)]| -> Result<Vec<FeeTier>, String> {
            rows.iter().map(|(v, p)| Ok(FeeTier { volume: *v as i128, ppm: percent_to_ppm(p).ok_or(format!("bad fee {p}"))? })).collect()
        };
        let (taker_fees, maker_fees) = (tiers(&cfg.fees.taker)?, tiers(&cfg.fees.maker)?);
        let top_taker = taker_fees.iter().map(|t| t.ppm).max().unwrap_or(0);
        if maker_fees.iter().chain(&taker_fees).any(|t| t.ppm > top_taker || t.ppm > 10_000) {
            // Holds reserve the highest taker rate; no rate may exceed it (nor 1%).
            return Err("a fee rate is above the highest taker rate or above 1%".into());
        }
        let fee_volume_asset = assets.iter().position(|a| a.id == "ZUSD").unwrap_or(0) as AssetIdx;
        let tape = super::market_data::TapeBound {
            trades: cfg.storage.tape_keep_trades.max(1),
            span_ns: cfg.storage.tape_keep_seconds.saturating_mul(super::market_data::NS),
        };
        Ok(Markets {
            assets,
            pairs,
            taker_fees,
            maker_fees,
            fee_volume_asset,
            tape,
            asset_names,
            pair_names,
            max_taker: Default::default(),
        })
    }

    pub fn asset_by_name(&self, name: &str) -> Option<AssetIdx> {
        self.asset_names.get(&name.trim().to_ascii_uppercase()).copied()
    }

    pub fn pair_by_name(&self, name: &str) -> Option<PairIdx> {
        self.pair_names.get(&name.trim().to_ascii_uppercase()).copied()
    }

    pub fn pair(&self, p: PairIdx) -> &Pair {
        &self.pairs[p as usize]
    }

    pub fn asset(&self, a: AssetIdx) -> &Asset {
        &self.assets[a as usize]
    }

    /// The tier row that applies to a 30-day volume (in fee-volume asset units).
    pub fn tier(schedule: &[FeeTier], volume_units: i128, decimals: u32) -> usize {
        // 10^decimals from the table, and the division in 64 bits when both fit (a fill reads
        // two accounts' tiers; the 128-bit division was half of it): the same quotient.
        let unit = POW10.get(decimals as usize).copied().unwrap_or_else(|| 10i128.pow(decimals));
        let whole = match (u64::try_from(volume_units), u64::try_from(unit)) {
            (Ok(v), Ok(u)) => i128::from(v / u),
            _ => volume_units / unit,
        };
        schedule.iter().rposition(|t| t.volume <= whole).unwrap_or(0)
    }

    /// The highest taker rate of the schedule: what holds reserve for fees.
    pub fn max_taker_ppm(&self) -> i128 {
        *self.max_taker.get_or_init(|| self.taker_fees.iter().map(|t| t.ppm).max().unwrap_or(0))
    }
}
