//! Request logs: one structured `tracing` line per answered request (target `calamari::request`),
//! written by the same middleware that counts it (`telemetry::http::record`), and a budget that
//! keeps a flood from turning the log into the bottleneck: at most `request_lines_per_second`
//! lines in each second, the rest counted by method and Kraken error and reported by one summary
//! line per `summary_seconds`.
//!
//! A line holds the client address, the method label (a known Kraken method or `other`, the
//! admin or console route's path, or `/health`, `/metrics`), its kind, the NAME of the API key (the one
//! given at `key create`; never the public key, the secret, a header or a body), the HTTP status,
//! the Kraken error as its bounded metric label (no client-chosen text), and the latency in
//! microseconds; the formatter adds the time. API, admin and `/openapi.json` lines are at info;
//! `/health` and `/metrics` (scraped every few seconds) at debug. Paths no route matches are not
//! logged. The budget is deterministic: [`LineBudget`] takes the time as an input.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The `tracing` target of request and summary lines (`RUST_LOG=info,calamari::request=off`
/// silences them).
pub const TARGET: &str = "calamari::request";

/// The `[log]` table of the configuration.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogConfig {
    /// Request lines written in any one second; beyond it lines are counted, not written (0: only
    /// summaries).
    #[serde(default = "default_lines")]
    pub request_lines_per_second: u32,
    /// At most one summary of suppressed lines per this many seconds.
    #[serde(default = "default_summary")]
    pub summary_seconds: u64,
}

fn default_lines() -> u32 {
    100
}
fn default_summary() -> u64 {
    10
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { request_lines_per_second: default_lines(), summary_seconds: default_summary() }
    }
}

/// Lines withheld since the last summary, by method and error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub suppressed: u64,
    /// From the first withheld line to the time of the summary.
    pub over_ms: u64,
    /// `(method, error, count)`, most frequent first.
    pub counts: Vec<(String, String, u64)>,
}

impl Summary {
    /// `AddOrder EAPI:Invalid nonce=120; Time=3` (no error after the method for successes).
    pub fn counts_text(&self) -> String {
        let one = |(m, e, n): &(String, String, u64)| if e.is_empty() { format!("{m}={n}") } else { format!("{m} {e}={n}") };
        self.counts.iter().map(one).collect::<Vec<_>>().join("; ")
    }
}

/// The line budget: a fixed one-second window of `per_second` lines, and the withheld lines'
/// counts. Every function takes the time (µs on any monotonic scale) as an input.
#[derive(Debug)]
pub struct LineBudget {
    per_second: u32,
    summary_us: u64,
    window: u64,
    used: u32,
    withheld: BTreeMap<(String, String), u64>,
    /// When the first line not yet summarised was withheld.
    since_us: Option<u64>,
}

impl LineBudget {
    pub fn new(config: LogConfig) -> LineBudget {
        LineBudget {
            per_second: config.request_lines_per_second,
            summary_us: config.summary_seconds.max(1).saturating_mul(1_000_000),
            window: 0,
            used: 0,
            withheld: BTreeMap::new(),
            since_us: None,
        }
    }

    /// Whether a line about this request may be written now; if not, it is counted.
    pub fn admit(&mut self, now_us: u64, method: &str, error: &str) -> bool {
        let window = now_us / 1_000_000;
        if window != self.window {
            self.window = window;
            self.used = 0;
        }
        if self.used < self.per_second {
            self.used += 1;
            return true;
        }
        *self.withheld.entry((method.to_string(), error.to_string())).or_insert(0) += 1;
        self.since_us.get_or_insert(now_us);
        false
    }

    /// The summary of withheld lines once `summary_seconds` have passed since the first of them.
    pub fn due(&mut self, now_us: u64) -> Option<Summary> {
        let since = self.since_us?;
        if now_us < since.saturating_add(self.summary_us) {
            return None;
        }
        self.take(now_us)
    }

    /// The summary of whatever is withheld, now (at shutdown).
    pub fn take(&mut self, now_us: u64) -> Option<Summary> {
        let since = self.since_us.take()?;
        let mut counts: Vec<(String, String, u64)> = std::mem::take(&mut self.withheld).into_iter().map(|((m, e), n)| (m, e, n)).collect();
        counts.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        let suppressed = counts.iter().map(|c| c.2).sum();
        Some(Summary { suppressed, over_ms: now_us.saturating_sub(since) / 1000, counts })
    }
}

/// One answered request, as the middleware saw it.
pub struct Line<'a> {
    pub client: Option<IpAddr>,
    pub method: &'a str,
    pub kind: &'static str,
    pub key: Option<&'a str>,
    pub status: u16,
    /// The Kraken error's metric label; `None` for a success or an answer that is not Kraken's.
    pub error: Option<&'a str>,
    pub latency_us: u64,
}

/// The process's request log: the budget behind a lock, on the time since start.
pub struct RequestLog {
    origin: Instant,
    budget: Mutex<LineBudget>,
}

impl RequestLog {
    pub fn new(config: LogConfig) -> RequestLog {
        RequestLog { origin: Instant::now(), budget: Mutex::new(LineBudget::new(config)) }
    }

    fn now_us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_micros() as u64
    }

    /// Writes the line of one request (if its level is on and the budget allows), after any
    /// summary that is due.
    pub fn write(&self, at: Instant, line: &Line<'_>) {
        let quiet = matches!(line.kind, "operator");
        let on = if quiet {
            tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
        } else {
            tracing::enabled!(target: TARGET, tracing::Level::INFO)
        };
        if !on {
            return;
        }
        let now = self.now_us(at);
        let (summary, admitted) = {
            let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
            let summary = b.due(now);
            (summary, b.admit(now, line.method, line.error.unwrap_or("")))
        };
        if let Some(s) = summary {
            write_summary(&s);
        }
        if !admitted {
            return;
        }
        let Line { client, method, kind, key, status, error, latency_us } = *line;
        let client = client.map(tracing::field::display);
        if quiet {
            tracing::debug!(target: TARGET, client, method, kind, key, status, error, latency_us, "request");
        } else {
            tracing::info!(target: TARGET, client, method, kind, key, status, error, latency_us, "request");
        }
    }

    /// Writes the summary if one is due (the server's one-second ticker), or whatever is
    /// withheld when `all` (at shutdown).
    pub fn flush(&self, all: bool) {
        let now = self.now_us(Instant::now());
        let summary = {
            let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
            if all {
                b.take(now)
            } else {
                b.due(now)
            }
        };
        if let Some(s) = summary {
            write_summary(&s);
        }
    }
}

fn write_summary(s: &Summary) {
    let counts = s.counts_text();
    tracing::info!(target: TARGET, suppressed = s.suppressed, over_ms = s.over_ms, counts = counts.as_str(), "request lines suppressed");
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn budget(per_second: u32, summary_seconds: u64) -> LineBudget {
        LineBudget::new(LogConfig { request_lines_per_second: per_second, summary_seconds })
    }

    #[test]
    fn at_most_n_lines_a_second_then_counts() {
        let mut b = budget(3, 2);
        let admitted: Vec<bool> = (0..5).map(|i| b.admit(10 * S + i, "Balance", "EAPI:Invalid key")).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        assert_eq!(b.due(11 * S), None, "not before summary_seconds since the first withheld line");
        // A new second: the budget is back.
        assert!(b.admit(11 * S, "Time", ""));
        assert!(b.admit(11 * S + 1, "Time", ""));
        assert!(b.admit(11 * S + 2, "Time", ""));
        assert!(!b.admit(11 * S + 3, "Time", ""));
        assert!(!b.admit(11 * S + 4, "AddOrder", "EAPI:Invalid nonce"));
        let s = b.due(12 * S + 3).expect("two seconds after the first withheld line");
        assert_eq!(s.suppressed, 4);
        assert_eq!(s.over_ms, 2000);
        assert_eq!(s.counts_text(), "Balance EAPI:Invalid key=2; AddOrder EAPI:Invalid nonce=1; Time=1");
        assert_eq!(b.due(20 * S), None, "one summary per batch of withheld lines");
        assert_eq!(b.take(20 * S), None);
    }

    #[test]
    fn a_flood_gives_bounded_lines_and_every_request_is_accounted_for() {
        let mut b = budget(20, 10);
        let (mut lines, mut summaries, mut withheld) = (0u64, 0u64, 0u64);
        // 100,000 requests over 50 seconds (2,000 a second), then quiet.
        for i in 0..100_000u64 {
            let now = i * 500;
            if let Some(s) = b.due(now) {
                summaries += 1;
                withheld += s.suppressed;
            }
            lines += b.admit(now, "Balance", "EAPI:Invalid signature") as u64;
        }
        if let Some(s) = b.take(60 * S) {
            summaries += 1;
            withheld += s.suppressed;
        }
        assert_eq!(lines, 50 * 20, "20 lines in each of the 50 seconds");
        assert_eq!(summaries, 5, "one summary per 10 seconds");
        assert_eq!(lines + withheld, 100_000);
    }

    #[test]
    fn zero_lines_a_second_writes_only_summaries() {
        let mut b = budget(0, 1);
        assert!(!b.admit(0, "Time", ""));
        assert_eq!(b.due(S).map(|s| s.suppressed), Some(1));
    }

    #[test]
    fn the_config_table_has_defaults() {
        let c: LogConfig = toml::from_str("").unwrap();
        assert_eq!(c, LogConfig::default());
        let c: LogConfig = toml::from_str("request_lines_per_second = 5").unwrap();
        assert_eq!((c.request_lines_per_second, c.summary_seconds), (5, 10));
    }
}
