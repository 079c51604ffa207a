//! Calamari: a spot exchange that speaks Kraken's REST API. See ARCHITECTURE.md for the map.

pub mod config;
pub mod error;
pub mod money;
pub mod engine;
pub mod storage;
pub mod crypto;
pub mod auth;
pub mod api;
pub mod sequencer;
pub mod server;
pub mod admin;
pub mod cli;
