//! The one place answers are measured: an axum middleware around the Kraken routes that
//! counts each answer by endpoint and Kraken error and times it, and writes its request-log line
//! (`request_log`); the same middleware writes the lines of the admin and health/metrics routes,
//! which are not counted. Also the panic catcher that turns a panicking handler into Kraken's
//! `EGeneral:Internal error` (HTTP 500) instead of a dropped connection. The error label comes
//! from the [`Outcome`] that `api::envelope` attaches to its response, and the key name from the
//! [`KeyName`] the private-call path attaches, so the body is never parsed back.

use super::request_log::Line;
use super::{EndpointLabels, RequestLabels};
use crate::api::{self, private, public, Shared};
use crate::error::KrakenError;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::time::Instant;

/// The Kraken error of an answer ("" for success; see `KrakenError::metric_label`), attached by
/// the envelope as an extension.
#[derive(Clone, Debug)]
pub struct Outcome(pub String);

/// The name of the API key a private call named (given at `key create`; never the key itself),
/// attached by the private-call path for the request log.
#[derive(Clone, Debug)]
pub struct KeyName(pub String);

/// The endpoint label: a known method's name, or "other" (a client cannot add label values by
/// inventing paths); for the request log only, kind `admin` for the admin routes (the log names
/// them by their route's path) and `/health`, `/metrics` by their path (kind `operator`).
pub fn endpoint_of(path: &str) -> (&'static str, &'static str) {
    let find = |list: &[&'static str], name: &str| list.iter().copied().find(|m| *m == name).unwrap_or("other");
    if let Some(name) = path.strip_prefix("/0/public/") {
        (find(public::METHODS, name), "public")
    } else if let Some(name) = path.strip_prefix("/0/private/") {
        (private::METHODS.iter().map(|(m, _)| *m).find(|m| *m == name).unwrap_or("other"), "private")
    } else if path.starts_with("/admin/") {
        ("other", "admin")
    } else if path == "/" || path.starts_with("/console") {
        ("other", "console")
    } else if path == "/health" || path == "/metrics" {
        (find(&["/health", "/metrics"], path), "operator")
    } else {
        ("other", "other")
    }
}

/// Counts and times one API request (admin and operator requests are not counted), and writes
/// its request-log line.
pub async fn record(State(st): State<Shared>, request: Request, next: Next) -> Response {
    let (endpoint, kind) = endpoint_of(request.uri().path());
    // An admin line names the route that matched (one of the router's, never the raw path).
    let route =
        matches!(kind, "admin" | "console").then(|| request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string())).flatten();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let client = peer.map(|p| api::client_address(&st.limits, p, request.headers()));
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let outcome = response.extensions().get::<Outcome>().map(|o| o.0.as_str());
    let status = response.status().as_u16();
    let telemetry = &st.telemetry;
    if !matches!(kind, "admin" | "operator" | "console") {
        let error = match outcome {
            Some(e) => e.to_string(),
            // Refused before the envelope (e.g. axum's body limit): no Kraken string, the HTTP status.
            None => format!("HTTP {status}"),
        };
        telemetry.requests.get_or_create(&RequestLabels { endpoint, kind, error }).inc();
        telemetry.latency.get_or_create(&EndpointLabels { endpoint, kind }).observe(elapsed.as_secs_f64());
    }
    let line = Line {
        client,
        method: route.as_deref().unwrap_or(endpoint),
        kind,
        key: response.extensions().get::<KeyName>().map(|k| k.0.as_str()),
        status,
        error: outcome.filter(|e| !e.is_empty()),
        latency_us: elapsed.as_micros() as u64,
    };
    telemetry.request_log.write(started + elapsed, &line);
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

#[cfg(test)]
mod tests {
    use super::endpoint_of;

    #[test]
    fn endpoints_are_labelled_from_fixed_lists() {
        assert_eq!(endpoint_of("/0/public/Time"), ("Time", "public"));
        assert_eq!(endpoint_of("/0/public/Time\nINFO forged"), ("other", "public"));
        assert_eq!(endpoint_of("/0/private/AddOrder"), ("AddOrder", "private"));
        assert_eq!(endpoint_of("/admin/keys"), ("other", "admin"), "the log names admin routes by their matched path");
        assert_eq!(endpoint_of("/health"), ("/health", "operator"));
        assert_eq!(endpoint_of("/console/keys"), ("other", "console"), "console lines name their matched route too");
        assert_eq!(endpoint_of("/metrics"), ("/metrics", "operator"));
        assert_eq!(endpoint_of("/openapi.json"), ("other", "other"));
    }
}
