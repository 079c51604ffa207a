//! The one place API answers are measured: an axum middleware around the Kraken routes that
//! counts each answer by endpoint and Kraken error and times it, and the panic catcher that turns
//! a panicking handler into Kraken's `EGeneral:Internal error` (HTTP 500) instead of a dropped
//! connection. The error label comes from the [`Outcome`] that `api::envelope` attaches to its
//! response, so the body is never parsed back.

use super::{EndpointLabels, RequestLabels, Telemetry};
use crate::api::{self, private, public};
use crate::error::KrakenError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// The Kraken error of an answer ("" for success; see `KrakenError::metric_label`), attached by
/// the envelope as an extension.
#[derive(Clone, Debug)]
pub struct Outcome(pub String);

/// The endpoint label: a known method's name, or "other" (a client cannot add label values by
/// inventing paths).
pub fn endpoint_of(path: &str) -> (&'static str, &'static str) {
    let find = |list: &[&'static str], name: &str| list.iter().copied().find(|m| *m == name).unwrap_or("other");
    if let Some(name) = path.strip_prefix("/0/public/") {
        (find(public::METHODS, name), "public")
    } else if let Some(name) = path.strip_prefix("/0/private/") {
        (private::METHODS.iter().map(|(m, _)| *m).find(|m| *m == name).unwrap_or("other"), "private")
    } else {
        ("other", "other")
    }
}

/// Counts and times one API request.
pub async fn record(State(telemetry): State<Arc<Telemetry>>, request: Request, next: Next) -> Response {
    let (endpoint, kind) = endpoint_of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let error = match response.extensions().get::<Outcome>() {
        Some(Outcome(e)) => e.clone(),
        // Refused before the envelope (e.g. axum's body limit): no Kraken string, the HTTP status.
        None => format!("HTTP {}", response.status().as_u16()),
    };
    telemetry.requests.get_or_create(&RequestLabels { endpoint, kind, error }).inc();
    telemetry.latency.get_or_create(&EndpointLabels { endpoint, kind }).observe(seconds);
    response
}

/// The answer to a request whose handler panicked (the panic hook has counted and logged it).
/// The payload is not echoed: it could hold anything.
pub fn panic_answer(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    api::envelope_with_status(StatusCode::INTERNAL_SERVER_ERROR, Err(KrakenError::InternalError))
}

/// The layer that catches a handler's panic and answers [`panic_answer`].
pub fn catch_panic() -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send + 'static>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_answer as fn(Box<dyn std::any::Any + Send + 'static>) -> Response)
}
