//! The HTTP surface: Kraken's REST paths (`/0/public/<Method>`, `/0/private/<Method>`), the
//! `{"error":[…],"result":…}` envelope, and the path of a private call (parse the raw body,
//! authenticate over exactly those bytes, check the permission, run the method). Every API
//! error is HTTP 200 with a Kraken string, as on Kraken.

pub mod params;
pub mod private;
pub mod public;
pub mod public_json;
pub mod views;

use crate::auth::{self, KeyRegistry, Permissions};
use crate::clock::Clock;
use crate::engine::markets::Markets;
use crate::error::KrakenError;
use crate::limits::Limits;
use crate::sequencer::Sequencer;
use crate::telemetry::{self, http::KeyName, http::Outcome};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use params::Params;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    pub sequencer: Sequencer,
    pub markets: Arc<Markets>,
    pub keys: Arc<KeyRegistry>,
    /// Reads order/trade/ledger ids without a trip to the engine (same seed).
    pub ids: crate::engine::ids::IdCodec,
    pub max_body_bytes: usize,
    /// Call restrictions: counters, lockouts, tiers.
    pub limits: Arc<Limits>,
    /// The time the request path sees (the system clock, or a test's).
    pub clock: Clock,
    /// The process's metrics (`/metrics`).
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    /// Withdrawal timings and limits.
    pub funding: crate::config::FundingConfig,
    /// Data exports (AddExport … RemoveExport), kept in the data directory.
    pub exports: Arc<crate::exports::Exports>,
    /// WebSocket tokens (`GetWebSocketsToken` issues, the WebSocket connections check).
    pub tokens: Arc<crate::ws::private::token::Tokens>,
    /// The trade and ledger history tables (`storage::history_read`).
    pub history: Arc<crate::storage::history_read::HistoryReader>,
}

pub type Shared = Arc<AppState>;

/// A method's answer: its `result`, or the Kraken error.
pub type ApiResult = Result<Value, KrakenError>;

pub fn envelope(result: ApiResult) -> Response {
    envelope_with_status(StatusCode::OK, result)
}

/// The envelope with another HTTP status (500 for a handler that panicked). The Kraken error is
/// also attached as an [`Outcome`] for the metrics layer.
///
/// A result is written straight after the envelope's head, as `{"error":[],"result":…}` with the
/// result's own text: the same bytes as the two-key object it was, without moving the result
/// into one.
pub fn envelope_with_status(status: StatusCode, result: ApiResult) -> Response {
    const HEAD: &[u8] = b"{\"error\":[],\"result\":";
    let (body, error) = match result {
        Ok(v) => {
            let mut body = Vec::with_capacity(256);
            body.extend_from_slice(HEAD);
            serde_json::to_writer(&mut body, &v).expect("a JSON value always serializes");
            body.push(b'}');
            (body, String::new())
        }
        Err(e) => (json!({ "error": [e.as_kraken()] }).to_string().into_bytes(), e.metric_label()),
    };
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    response.extensions_mut().insert(Outcome(error));
    response
}

/// The envelope around a `result` already rendered as JSON text (the public methods': their
/// live answers are written as text and may come from the view's cache).
pub fn envelope_text(result: public::TextResult) -> Response {
    let text = match result {
        Ok(text) => text,
        Err(e) => return envelope(Err(e)),
    };
    const HEAD: &str = "{\"error\":[],\"result\":";
    let mut body = String::with_capacity(HEAD.len() + text.len() + 1);
    body.push_str(HEAD);
    body.push_str(&text);
    body.push('}');
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    response.extensions_mut().insert(Outcome(String::new()));
    response
}

/// The OpenAPI 3.0 description of every route above and of /health and /metrics, served as is at
/// `GET /openapi.json`. tests/openapi.rs keeps it in step with the code (methods, permissions,
/// error strings); tests/schema runs schemathesis against it.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn router(state: Shared) -> Router {
    let limit = state.max_body_bytes;
    let record = axum::middleware::from_fn_with_state(state.clone(), telemetry::http::record);
    Router::new()
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON) }))
        // Every path below these two answers Kraken's envelope, deeper ones such as
        // `/0/private/Earn/Strategies` included (`EGeneral:Unknown method`), never a bare 404.
        .route("/0/public/{*method}", get(public_get).post(public_post).fallback(unknown_method))
        .route("/0/private/{*method}", post(private_call).get(private_get).fallback(unknown_method))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .route_layer(telemetry::http::catch_panic())
        .route_layer(record)
        .with_state(state)
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address
/// in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(limits: &Limits, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    client_address_behind(&limits.policy.trusted_proxies, peer, headers)
}

/// [`client_address`] with the trusted proxies given (the WebSocket upgrade's).
pub fn client_address_behind(proxies: &[ipnet::IpNet], peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = |ip: &IpAddr| proxies.iter().any(|n| n.contains(ip));
    let mut client = peer.ip();
    if !trusted(&client) {
        return client;
    }
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

async fn public_get(
    State(st): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(e) = st.limits.check_public(client_address(&st.limits, peer, &headers), st.clock.now_us()) {
        return envelope(Err(e));
    }
    let params = match Params::from_form(q.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return envelope(Err(e)),
    };
    envelope_text(public::dispatch(&st, &method, params).await)
}

async fn public_post(
    State(st): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = st.limits.check_public(client_address(&st.limits, peer, &headers), st.clock.now_us()) {
        return envelope(Err(e));
    }
    let parsed = Params::from_body(content_type(&headers), &body).and_then(|mut p| {
        p.merge_missing(Params::from_form(q.unwrap_or_default().as_bytes())?);
        Ok(p)
    });
    match parsed {
        Ok(p) => envelope_text(public::dispatch(&st, &method, p).await),
        Err(e) => envelope(Err(e)),
    }
}

/// Another HTTP method (PUT, DELETE…) on a Kraken path: the envelope with `EGeneral:Unknown method`.
async fn unknown_method() -> Response {
    envelope(Err(KrakenError::UnknownMethod))
}

/// A GET on a private method: Kraken reads private calls from a POST body only and answers a GET
/// (its query string ignored) `EGeneral:Invalid arguments`; a method it does not serve stays
/// `EGeneral:Unknown method`.
async fn private_get(Path(method): Path<String>) -> Response {
    if private::permission_for(&method).is_none() {
        return envelope(Err(KrakenError::UnknownMethod));
    }
    envelope(Err(KrakenError::InvalidArguments(None)))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The authenticated caller of a private method.
pub struct Caller {
    pub key: Arc<auth::ApiKey>,
    pub nonce: u64,
}

/// The span of history a key may see (its query start/end), in engine nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct QueryWindow {
    pub from_ns: u64,
    pub to_ns: u64,
}

impl QueryWindow {
    pub fn contains(&self, t_ns: u64) -> bool {
        self.from_ns <= t_ns && t_ns <= self.to_ns
    }
}

impl Caller {
    pub fn account(&self) -> u32 {
        self.key.account_id
    }
    /// The key and nonce the command log records with a write (none for the console, which
    /// acts for a logged-in account without a key).
    pub fn key_nonce(&self) -> Option<(i64, u64)> {
        (self.key.id >= 0).then_some((self.key.id, self.nonce))
    }
    /// The web console's caller: the account itself, with every permission and no key (id -1,
    /// never in the registry), so that its pages run the API's own methods and rules.
    pub fn console(account: u32) -> Caller {
        let key = auth::ApiKey::new(-1, String::new(), account, "console".into(), Permissions::ALL, Vec::new(), 0);
        Caller { key: Arc::new(key), nonce: 0 }
    }
    pub fn query_window(&self) -> QueryWindow {
        let (from, to) = self.key.settings.query_window();
        let ns = |s: i64| (s.max(0) as u64).saturating_mul(1_000_000_000);
        QueryWindow { from_ns: from.map_or(0, ns), to_ns: to.map_or(u64::MAX, |t| ns(t).saturating_add(999_999_999)) }
    }
}

async fn private_call(
    State(st): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = client_address(&st.limits, peer, &headers);
    let mut key_name = None;
    let mut response = if method == "RetrieveExport" {
        // The one private method whose answer is a file, not the JSON envelope.
        match authorize(&st, client, &method, &headers, &body, &mut key_name).await {
            Ok((caller, params, _in_flight)) => match private::exports::retrieve_export(&st, &caller, &params).await {
                Ok(file) => file,
                Err(e) => envelope(Err(e)),
            },
            Err(e) => envelope(Err(e)),
        }
    } else {
        envelope(private_inner(&st, client, &method, &headers, &body, &mut key_name).await)
    };
    if let Some(name) = key_name {
        response.extensions_mut().insert(KeyName(name));
    }
    response
}

/// The path of a private call: lockout, body, authentication (failures counted per address),
/// the in-flight cap, the REST counter, the permission, then the method. `key_name` receives the
/// name of the key the request named, for the request log, once the key is known to exist (also
/// when its signature, nonce or second factor is then refused).
async fn private_inner(
    st: &Shared,
    client: IpAddr,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
    key_name: &mut Option<String>,
) -> ApiResult {
    let (caller, params, _in_flight) = authorize(st, client, method, headers, body, key_name).await?;
    private::dispatch(st, method, &caller, &params).await
}

/// Everything before the method: the authenticated caller, the parameters, and the in-flight
/// slot the call holds until it is answered.
async fn authorize(
    st: &Shared,
    client: IpAddr,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
    key_name: &mut Option<String>,
) -> Result<(Caller, Params, crate::limits::InFlight), KrakenError> {
    let Some(needs) = private::permission_for(method) else { return Err(KrakenError::UnknownMethod) };
    let now_us = st.clock.now_us();
    st.limits.check_lockout(client, now_us)?;
    let params = Params::from_body(content_type(headers), body)?;
    let nonce_text = params.text("nonce");
    let path = format!("/0/private/{method}");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now_secs = (now_us / 1_000_000) as i64;
    let request = auth::Request {
        api_key: header("API-Key"),
        api_sign: header("API-Sign"),
        path: &path,
        nonce: nonce_text,
        body,
        otp: params.text("otp"),
        client,
        now_secs,
    };
    let key = match auth::authenticate(&st.keys, &request) {
        Ok(key) => {
            st.limits.auth_succeeded(client);
            *key_name = Some(key.name.clone());
            key
        }
        Err(e) => {
            *key_name = request.api_key.and_then(|k| st.keys.get(k)).map(|k| k.name.clone());
            if matches!(e, KrakenError::InvalidKey | KrakenError::InvalidSignature | KrakenError::InvalidNonce) {
                st.limits.auth_failed(client, now_us);
            }
            return Err(e);
        }
    };
    let in_flight = st.limits.enter(key.id, now_secs as u64)?;
    st.limits.charge_rest(key.id, key.account_id, method, now_us)?;
    if !needs.iter().any(|p| key.permissions.contains(*p)) {
        return Err(KrakenError::PermissionDenied);
    }
    let nonce = nonce_text.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    Ok((Caller { key, nonce }, params, in_flight))
}

/// Permissions a method accepts (any one of them suffices).
pub type Needs = &'static [Permissions];

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope's bytes are those of the two-key object `{"error":[],"result":…}` it was
    /// built as before (keys in that order, compact, the result's own text), for results of every
    /// shape; an error's envelope has no `result`.
    #[tokio::test]
    async fn the_envelope_is_the_two_key_object() {
        let results = [
            json!({"ZUSD": "100.0000", "XXBT": "0.0000000000", "nested": {"b": [1, 2.5, null, true], "a": "é\"\\"}}),
            json!([]),
            json!("text"),
            json!(12345678901234567890u64),
            Value::Null,
        ];
        for v in results {
            let expected = json!({ "error": [], "result": v.clone() }).to_string();
            let response = envelope(Ok(v));
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
        }
        let response = envelope(Err(KrakenError::InvalidNonce));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], br#"{"error":["EAPI:Invalid nonce"]}"#);
    }
}
