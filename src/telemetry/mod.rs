//! What an operator can see of a running process: the Prometheus registry behind `/metrics`
//! (requests by endpoint and Kraken error, latency, the engine's queue, group commits, the
//! limiter's refusals), the request log (one line per request, `request_log`) and the
//! process-wide panic counter that every test suite asserts is zero.
//! The registry is `prometheus-client` (the Prometheus project's Rust client); values that other
//! modules already keep as atomics (the sequencer's queue, the limiter's counters) are read at
//! scrape time by a collector instead of being counted twice.

pub mod http;
pub mod request_log;
pub mod routes;

use crate::clock::Clock;
use crate::limits::Limits;
use crate::sequencer::SequencerStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

/// Latency buckets from 50 µs to 5 s (request handling and commit durations).
pub const SECONDS_BUCKETS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// One API answer: which method, public or private, and the Kraken error it gave ("" on success).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    pub kind: &'static str,
    pub error: String,
}

/// A method and its kind (the latency histograms do not split by error).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
    pub kind: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    Histogram::new(SECONDS_BUCKETS)
}

/// Registers a clone of each metric (a handle on the same values, which its owner keeps counting
/// into) under its name and help, in order: one table, though the metrics' types differ.
macro_rules! register_all {
    ($registry:expr, $(($name:expr, $help:expr, $metric:expr)),+ $(,)?) => {
        $($registry.register($name, $help, $metric.clone());)+
    };
}

/// The process's metrics: the registry and the handles the HTTP layer records into.
pub struct Telemetry {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: HistogramFamily<EndpointLabels>,
    /// One line per request (`calamari::request`), under a flood budget.
    pub request_log: request_log::RequestLog,
}

impl Telemetry {
    pub fn new(sequencer: Arc<SequencerStats>, limits: Arc<Limits>, clock: Clock, log: request_log::LogConfig) -> Telemetry {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<EndpointLabels> = Family::new_with_constructor(seconds_histogram);
        let ws = &crate::ws::refusals::STATS;
        register_all!(
            registry,
            ("calamari_http_requests", "API answers by endpoint, kind and Kraken error (\"\" = success)", requests),
            ("calamari_http_request_duration_seconds", "Time from request to answer, by endpoint", latency),
            ("calamari_storage_commit_records", "Log records per group commit of the storage thread", sequencer.commit_records),
            ("calamari_storage_commit_duration_seconds", "Duration of one group commit (append and sync)", sequencer.commit_seconds),
            (
                "calamari_history_flush_duration_seconds",
                "Duration of one history flush (the acknowledged batches' rows, unsynced)",
                sequencer.history_flush_seconds
            ),
            ("calamari_ws_refused", "WebSocket clients refused, by reason (per-address cap, attempt rate, frame too big)", ws.refused),
            ("calamari_ws_dropped", "WebSocket clients disconnected, by reason (slow client, write deadline, request rate)", ws.dropped),
        );
        registry.register_collector(Box::new(LiveValues { sequencer, limits, clock }));
        Telemetry { registry, requests, latency, request_log: request_log::RequestLog::new(log) }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// How log lines are written to stderr (`serve --log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `tracing`'s human-readable lines: time, level, target, message, `field=value`s.
    Text,
    /// One JSON object a line, the event's fields at the top level beside `timestamp`, `level`,
    /// `target` and `message`.
    Json,
}

/// Installs the process's `tracing` subscriber on stderr, at `RUST_LOG`'s levels (info by
/// default). Called once, by `calamari serve`.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a file or a pipe gets plain lines a program can read.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init(),
    }
}

/// Panics seen by this process, on any thread (counted by the hook of [`install_panic_hook`]).
static PANICS: AtomicU64 = AtomicU64::new(0);

pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Counts every panic of the process, then runs the previous hook (which prints the message).
/// Installed once, at server start.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
        }));
    });
}

/// Values kept as atomics elsewhere, read on each scrape.
struct LiveValues {
    sequencer: Arc<SequencerStats>,
    limits: Arc<Limits>,
    clock: Clock,
}

impl std::fmt::Debug for LiveValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveValues")
    }
}

impl Collector for LiveValues {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut counter = |name: &str, help: &str, v: u64| -> Result<(), std::fmt::Error> {
            let c = ConstCounter::new(v);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
        };
        let seq = &self.sequencer;
        let st = &self.limits.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter("calamari_panics", "Panics in this process, on any thread (must stay 0)", panics())?;
        counter("calamari_storage_commits", "Group commits made durable", load(&seq.commits))?;
        counter("calamari_committed_commands", "Commands made durable in the command log", load(&seq.committed_commands))?;
        counter(
            "calamari_history_flushes",
            "History flushes (trades, ledger entries, closed orders of acknowledged batches)",
            load(&seq.history_flushes),
        )?;
        counter("calamari_history_rows", "History rows written by the flushes", load(&seq.history_rows))?;
        counter("calamari_rest_rate_limited", "Private calls refused with EAPI:Rate limit exceeded", load(&st.rest_refused))?;
        counter("calamari_trading_rate_limited", "Orders and cancels refused with EOrder:Rate limit exceeded", load(&st.trading_refused))?;
        counter("calamari_open_orders_cap", "Orders refused with EOrder:Orders limit exceeded", load(&st.orders_cap_refused))?;
        counter("calamari_public_rate_limited", "Public calls refused with EGeneral:Too many requests", load(&st.public_refused))?;
        counter("calamari_auth_failures", "Invalid key, signature or nonce answers", load(&st.auth_failures))?;
        counter("calamari_lockouts", "Temporary lockouts started", load(&st.lockouts_started))?;
        counter("calamari_locked_out_refused", "Calls refused with EGeneral:Temporary lockout", load(&st.locked_refused))?;
        counter("calamari_throttled", "Calls refused with EService:Throttled", load(&st.throttled))?;
        let mut seconds = |name: &str, help: &str, ns: &AtomicU64| -> Result<(), std::fmt::Error> {
            let c = ConstCounter::new(load(ns) as f64 / 1e9);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
        };
        seconds(
            "calamari_storage_wait_seconds",
            "Time the storage thread waited for work (idle); the rest is commits, views, replies",
            &seq.storage_wait_ns,
        )?;
        seconds("calamari_history_wait_seconds", "Time the history thread waited for rows (idle)", &seq.history_wait_ns)?;
        seconds(
            "calamari_history_busy_seconds",
            "Time the history thread spent taking rows and writing them to history.db",
            &seq.history_busy_ns,
        )?;
        let mut gauge = |name: &str, help: &str, v: i64| -> Result<(), std::fmt::Error> {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
        };
        gauge(
            "calamari_engine_queue_depth",
            "Jobs (commands and reads) queued for the engine thread",
            seq.queue_depth.load(Ordering::Relaxed) as i64,
        )?;
        gauge(
            "calamari_history_lag_batches",
            "Acknowledged batches whose history rows are not written yet (the history watermark's lag)",
            seq.history_mark.lag() as i64,
        )?;
        gauge(
            "calamari_history_upto",
            "The log record up to which history.db holds the history rows (its history_upto)",
            load(&seq.history_upto) as i64,
        )?;
        gauge("calamari_lockouts_active", "Addresses locked out now", self.limits.lockouts(self.clock.now_us()).len() as i64)?;
        gauge("calamari_tracked_addresses", "Client addresses the limiter tracks", self.limits.tracked_addresses() as i64)?;
        Ok(())
    }
}
