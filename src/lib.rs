//! Calamari: a spot exchange that speaks Kraken's REST API. See ARCHITECTURE.md for the map.

pub mod admin;
pub mod allocator;
pub mod api;
pub mod auth;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod exports;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod key_settings;
pub mod limits;
pub mod market;
pub mod money;
pub mod recovery;
pub mod sequencer;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod ws;
