//! The operator's two read-only endpoints, open to every peer like Kraken's public API:
//! `GET /health` (a read round-trip through the sequencer within a second proves that the
//! engine thread runs and that the storage thread released the batch before it) and
//! `GET /metrics` (Prometheus text).

use crate::api::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a health check waits for its round-trip through the engine and the storage thread.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

pub fn router(state: Shared) -> Router {
    let log = axum::middleware::from_fn_with_state(state.clone(), super::http::record);
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(super::http::catch_panic())
        .route_layer(log)
        .with_state(state)
}

async fn metrics(State(st): State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], st.telemetry.render()).into_response()
}

/// 200 `{"status":"ok","checks":{"engine":"ok","storage":"ok"}}`, or 503 with
/// `"status":"unavailable"` and the failing check's reason: `stopped` (the thread has ended),
/// `timeout` (no answer within [`HEALTH_TIMEOUT`]), `unavailable` (the queue refused the read);
/// a check that could not be reached says `unknown`.
async fn health(State(st): State<Shared>) -> Response {
    // The engine thread marks the read when it runs it; the reply comes back only after the
    // storage thread has committed the batch before it.
    let stats = &st.sequencer.stats;
    let (engine_running, storage_running) = (stats.engine_running.load(Ordering::Relaxed), stats.storage_running.load(Ordering::Relaxed));
    if !engine_running || !storage_running {
        let reason = |running| if running { "unknown" } else { "stopped" };
        return unhealthy(reason(engine_running), reason(storage_running));
    }
    let engine_ran = Arc::new(AtomicBool::new(false));
    let mark = engine_ran.clone();
    let round_trip = st.sequencer.read(move |_| mark.store(true, Ordering::Relaxed));
    let (engine, storage) = match tokio::time::timeout(HEALTH_TIMEOUT, round_trip).await {
        Ok(Ok(())) => ("ok", "ok"),
        Ok(Err(_)) => ("unavailable", "unknown"),
        Err(_) if engine_ran.load(Ordering::Relaxed) => ("ok", "timeout"),
        Err(_) => ("timeout", "unknown"),
    };
    if engine == "ok" && storage == "ok" {
        let body = json!({ "status": "ok", "checks": { "engine": "ok", "storage": "ok" } });
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    unhealthy(engine, storage)
}

fn unhealthy(engine: &str, storage: &str) -> Response {
    let body = json!({ "status": "unavailable", "checks": { "engine": engine, "storage": storage } });
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
