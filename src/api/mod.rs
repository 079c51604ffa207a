//! The HTTP surface: Kraken's REST paths (`/0/public/<Method>`, `/0/private/<Method>`), the
//! `{"error":[…],"result":…}` envelope, and the path of a private call (parse the raw body,
//! authenticate over exactly those bytes, check the permission, run the method). Every API
//! error is HTTP 200 with a Kraken string, as on Kraken.

pub mod params;
pub mod private;
pub mod public;
pub mod views;

use crate::auth::{self, KeyRegistry, Permissions};
use crate::engine::markets::Markets;
use crate::error::KrakenError;
use crate::sequencer::Sequencer;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use params::Params;
use serde_json::{json, Value};
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    pub sequencer: Sequencer,
    pub markets: Arc<Markets>,
    pub keys: Arc<KeyRegistry>,
    /// Reads order/trade/ledger ids without a trip to the engine (same seed).
    pub ids: crate::engine::ids::IdCodec,
    pub max_body_bytes: usize,
}

pub type Shared = Arc<AppState>;

/// A method's answer: its `result`, or the Kraken error.
pub type ApiResult = Result<Value, KrakenError>;

pub fn envelope(result: ApiResult) -> Response {
    let body = match result {
        Ok(v) => json!({ "error": [], "result": v }),
        Err(e) => json!({ "error": [e.as_kraken()] }),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

pub fn router(state: Shared) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/0/public/{method}", get(public_get).post(public_post))
        .route("/0/private/{method}", post(private_call))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn public_get(State(st): State<Shared>, Path(method): Path<String>, RawQuery(q): RawQuery) -> Response {
    let params = match Params::from_form(q.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return envelope(Err(e)),
    };
    envelope(public::dispatch(&st, &method, params).await)
}

async fn public_post(
    State(st): State<Shared>,
    Path(method): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = Params::from_body(content_type(&headers), &body).and_then(|mut p| {
        p.merge_missing(Params::from_form(q.unwrap_or_default().as_bytes())?);
        Ok(p)
    });
    match parsed {
        Ok(p) => envelope(public::dispatch(&st, &method, p).await),
        Err(e) => envelope(Err(e)),
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The authenticated caller of a private method.
pub struct Caller {
    pub key: Arc<auth::ApiKey>,
    pub nonce: u64,
}

impl Caller {
    pub fn account(&self) -> u32 {
        self.key.account_id
    }
    pub fn key_nonce(&self) -> Option<(i64, u64)> {
        Some((self.key.id, self.nonce))
    }
}

async fn private_call(State(st): State<Shared>, Path(method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    envelope(private_inner(&st, &method, &headers, &body).await)
}

async fn private_inner(st: &Shared, method: &str, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let Some(needs) = private::permission_for(method) else { return Err(KrakenError::UnknownMethod) };
    let params = Params::from_body(content_type(headers), body)?;
    let nonce_text = params.text("nonce");
    let path = format!("/0/private/{method}");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = auth::authenticate(&st.keys, header("API-Key"), header("API-Sign"), &path, nonce_text, body)?;
    if !needs.iter().any(|p| key.permissions.contains(*p)) {
        return Err(KrakenError::PermissionDenied);
    }
    let nonce = nonce_text.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    let caller = Caller { key, nonce };
    private::dispatch(st, method, &caller, &params).await
}

/// Permissions a method accepts (any one of them suffices).
pub type Needs = &'static [Permissions];
