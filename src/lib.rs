//! Calamari: a spot exchange that speaks Kraken's REST API. See ARCHITECTURE.md for the map.

pub mod config;
pub mod error;
pub mod money;
pub mod engine;
