//! Calamari: a spot exchange that speaks Kraken's REST API. See ARCHITECTURE.md for the map.

/// mimalloc for every binary built on the library (the server, its tests and benchmarks), so
/// that what is measured is what runs. Under AddOrder load glibc's malloc was ~5% of the server's
/// samples in the engine thread alone (`_int_malloc`, `malloc_consolidate`: buffers allocated on
/// one thread and freed on another); mimalloc cut the server's CPU per durable AddOrder by ~18%
/// (BENCHMARKS.md §4). Fuzzing builds keep the system allocator, which the sanitizers watch.
#[cfg(not(fuzzing))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod admin;
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
