//! Kraken's funding methods for the built-in assets: the method names clients pass (`Bitcoin`,
//! `Ether (Hex)`, `Tether USD (ERC20)`…), each one's network, address format, confirmations,
//! block time, withdrawal fee and minimums. Static rules, like the fee schedule: not state, so
//! the engine reads them from here on every replay. An asset of a custom configuration that is not
//! listed has no funding method (`EFunding:No funding method`), except through the operator's
//! `calamari deposit`.

/// How a method's deposit addresses look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressFormat {
    /// Segwit v0 bech32 (`bc1q…`), 20-byte program.
    SegwitBech32,
    /// `0x` and 40 hex digits (Ethereum and its tokens, BNB Smart Chain, Hyperliquid).
    Hex20,
    /// Base58Check with a version prefix (Dogecoin `D…`, Tron `T…`, Bitcoin Cash legacy `1…`,
    /// Zcash transparent `t1…`).
    Base58Check(&'static [u8]),
    /// Base58 of 32 bytes (Solana).
    Base58Raw32,
    /// Cardano Shelley enterprise address, bech32 `addr1v…`.
    CardanoBech32,
    /// One shared Ripple address (`r…`) with a destination tag per account.
    RippleTag,
}

/// One funding method of one asset.
#[derive(Clone, Copy, Debug)]
pub struct Method {
    pub name: &'static str,
    pub network: &'static str,
    pub format: AddressFormat,
    /// Confirmations a deposit (and a broadcast withdrawal) waits for.
    pub confirmations: u32,
    /// Seconds per confirmation.
    pub block_seconds: u32,
    /// Withdrawal fee, decimal in the asset.
    pub withdraw_fee: &'static str,
    /// Smallest withdrawal (before the fee), decimal.
    pub withdraw_min: &'static str,
    /// Smallest deposit credited, decimal.
    pub deposit_min: &'static str,
}

impl Method {
    /// Nanoseconds from a transaction's first sighting to its last required confirmation.
    pub fn confirm_ns(&self) -> u64 {
        self.confirmations as u64 * self.block_seconds as u64 * 1_000_000_000
    }
    /// Whether a deposit address carries a tag (Kraken's `tag` field) beside the address.
    pub fn has_tag(&self) -> bool {
        self.format == AddressFormat::RippleTag
    }
}

#[allow(clippy::too_many_arguments)] // a row of the table below: one argument a column
const fn m(
    name: &'static str,
    network: &'static str,
    format: AddressFormat,
    confirmations: u32,
    block_seconds: u32,
    withdraw_fee: &'static str,
    withdraw_min: &'static str,
    deposit_min: &'static str,
) -> Method {
    Method { name, network, format, confirmations, block_seconds, withdraw_fee, withdraw_min, deposit_min }
}

use AddressFormat::*;

/// (asset id, its methods). Ethereum tokens are ERC-20 methods of their own, as on Kraken.
#[rustfmt::skip]
const TABLE: &[(&str, &[Method])] = &[
    ("XXBT", &[m("Bitcoin", "Bitcoin", SegwitBech32, 3, 600, "0.00015", "0.0005", "0.0001")]),
    ("XETH", &[m("Ether (Hex)", "Ethereum", Hex20, 70, 12, "0.0015", "0.005", "0.0001")]),
    ("USDT", &[m("Tether USD (ERC20)", "Ethereum", Hex20, 70, 12, "2.5", "5", "1")]),
    ("XXRP", &[m("Ripple XRP", "Ripple", RippleTag, 1, 4, "0.2", "2", "1")]),
    ("BNB", &[m("BNB (BEP20)", "BNB Smart Chain", Hex20, 15, 3, "0.0005", "0.01", "0.001")]),
    ("SOL", &[m("Solana", "Solana", Base58Raw32, 32, 1, "0.01", "0.05", "0.01")]),
    ("USDC", &[m("USDC (ERC20)", "Ethereum", Hex20, 70, 12, "2.5", "5", "1")]),
    ("TRX", &[m("Tron", "Tron", Base58Check(&[0x41]), 20, 3, "1", "10", "1")]),
    ("XXDG", &[m("Dogecoin", "Dogecoin", Base58Check(&[0x1e]), 40, 60, "4", "50", "10")]),
    ("ADA", &[m("ADA", "Cardano", CardanoBech32, 15, 20, "0.5", "5", "1")]),
    ("HYPE", &[m("Hyperliquid", "Hyperliquid", Hex20, 1, 1, "0.02", "0.2", "0.01")]),
    ("BCH", &[m("Bitcoin Cash", "Bitcoin Cash", Base58Check(&[0x00]), 15, 600, "0.0001", "0.002", "0.0001")]),
    ("LINK", &[m("Chainlink (ERC20)", "Ethereum", Hex20, 70, 12, "0.3", "1", "0.1")]),
    ("LEO", &[m("LEO (ERC20)", "Ethereum", Hex20, 70, 12, "2", "5", "1")]),
    ("XZEC", &[m("Zcash (Transparent)", "Zcash", Base58Check(&[0x1c, 0xb8]), 24, 75, "0.0001", "0.002", "0.0001")]),
];

/// The funding methods of an asset (by Kraken id); empty when it has none.
pub fn methods(asset_id: &str) -> &'static [Method] {
    TABLE.iter().find(|(id, _)| *id == asset_id).map_or(&[], |(_, ms)| *ms)
}

/// A method of an asset by name (Kraken matches method names case-insensitively) with its index.
pub fn method_by_name(asset_id: &str, name: &str) -> Option<(u8, &'static Method)> {
    methods(asset_id).iter().enumerate().find(|(_, m)| m.name.eq_ignore_ascii_case(name.trim())).map(|(i, m)| (i as u8, m))
}
