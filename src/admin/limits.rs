//! The operator's view of call restrictions: account tiers, key settings, each counter with its
//! ceiling and drain time, lockouts (listed and lifted). (The limiter's counters are in
//! `/metrics`, see `telemetry`.) The test clock can be moved forward here when the server runs with one.

use super::{bad, reply, Shared};
use crate::key_settings::{StoredOtp, StoredSettings};
use crate::limits::second_factor::parse_base32;
use crate::limits::Tier;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Key settings as the operator gives them: the second factor in clear (it is sealed here and
/// never stored or shown in clear again).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettingsInput {
    #[serde(default)]
    pub nonce_window: u64,
    #[serde(default)]
    pub valid_until: i64,
    #[serde(default)]
    pub query_from: i64,
    #[serde(default)]
    pub query_to: i64,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// A static 2FA password.
    pub otp_password: Option<String>,
    /// A TOTP secret in base32, as authenticator apps show it.
    pub otp_totp: Option<String>,
}

impl KeySettingsInput {
    pub fn seal(&self, sbox: &crate::crypto::SecretBox) -> Result<StoredSettings, String> {
        let otp: Option<StoredOtp> = match (&self.otp_password, &self.otp_totp) {
            (Some(_), Some(_)) => return Err("a key has one second factor: a password or TOTP, not both".into()),
            (Some(p), None) if p.is_empty() || p.len() > 128 => return Err("a 2FA password has 1 to 128 characters".into()),
            (Some(p), None) => Some(StoredSettings::seal_otp("password", p.as_bytes(), sbox)),
            (None, Some(b32)) => {
                let secret = parse_base32(b32).filter(|s| s.len() >= 10).ok_or("the TOTP secret must be base32 of at least 10 bytes")?;
                Some(StoredSettings::seal_otp("totp", &secret, sbox))
            }
            (None, None) => None,
        };
        let st = StoredSettings {
            nonce_window: self.nonce_window,
            valid_until: self.valid_until,
            query_from: self.query_from,
            query_to: self.query_to,
            ip_allowlist: self.ip_allowlist.clone(),
            otp,
        };
        st.validate()?;
        Ok(st)
    }
}

/// Stored settings for display: the second factor's kind only.
pub fn settings_view(stored: &str) -> Value {
    match serde_json::from_str::<StoredSettings>(stored) {
        Ok(s) => json!({
            "nonce_window": s.nonce_window,
            "valid_until": s.valid_until,
            "query_from": s.query_from,
            "query_to": s.query_to,
            "ip_allowlist": s.ip_allowlist,
            "otp": s.otp.map(|o| o.kind),
        }),
        Err(_) => Value::Null,
    }
}

#[derive(Deserialize)]
pub struct SetTier {
    account: String,
    tier: String,
}

pub async fn set_tier(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<SetTier>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let tier: Tier = match b.tier.parse() {
        Ok(t) => t,
        Err(e) => return bad(e),
    };
    match s.set_tier(&b.account, tier).await {
        Ok(id) => reply(StatusCode::OK, json!({ "account": b.account, "id": id, "tier": tier })),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
pub struct SetSettings {
    key: String,
    settings: KeySettingsInput,
}

pub async fn set_key_settings(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<SetSettings>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let stored = match b.settings.seal(&s.sbox) {
        Ok(st) => st,
        Err(e) => return bad(e),
    };
    let view = settings_view(&serde_json::to_string(&stored).unwrap_or_default());
    match s.set_key_settings(&b.key, stored) {
        Ok(()) => reply(StatusCode::OK, json!({ "key": b.key, "settings": view })),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
pub struct Who {
    who: String,
}

/// `calamari limits ACCOUNT_OR_KEY`: the tier, its figures, and every counter.
pub async fn show(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Query(q): Query<Who>) -> Response {
    crate::admin_guard!(s, peer, h);
    let st = &s.state;
    let keys = st.keys.all();
    let (account, mine): (u32, Vec<_>) = match keys.iter().find(|k| k.public_key == q.who) {
        Some(k) => (k.account_id, vec![k.clone()]),
        None => match s.account_id(&q.who).await {
            Ok(id) => (id, keys.iter().filter(|k| k.account_id == id).cloned().collect()),
            Err(_) => return bad(format!("no account or key {:?}", q.who)),
        },
    };
    let now = st.clock.now_us();
    let named: Vec<(i64, String)> = mine.iter().map(|k| (k.id, k.name.clone())).collect();
    let markets = st.markets.clone();
    let counters = st.limits.counters(account, &named, |p| markets.pair(p).altname.clone(), now);
    let tier = st.limits.tier(account);
    let p = &st.limits.policy;
    let open_cap = p.open_orders.map(|c| c.get(tier));
    reply(
        StatusCode::OK,
        json!({
            "account_id": account,
            "tier": tier,
            "profile": p.profile,
            "open_orders_per_pair": open_cap,
            "max_in_flight_per_key": p.max_in_flight_per_key,
            "counters": counters,
        }),
    )
}

pub async fn lockouts(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let now = s.state.clock.now_us();
    let list: Vec<Value> = s
        .state
        .limits
        .lockouts(now)
        .into_iter()
        .map(|l| json!({ "address": l.address.to_string(), "until": l.until_us / 1_000_000, "seconds_left": (l.until_us - now).div_ceil(1_000_000) }))
        .collect();
    reply(StatusCode::OK, json!({ "lockouts": list, "tracked_addresses": s.state.limits.tracked_addresses() }))
}

#[derive(Deserialize)]
pub struct Lift {
    address: String,
}

pub async fn lift(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Lift>) -> Response {
    crate::admin_guard!(s, peer, h);
    match b.address.trim().parse() {
        Ok(ip) => reply(StatusCode::OK, json!({ "lifted": s.state.limits.lift_lockout(ip, s.state.clock.now_us()) })),
        Err(_) => bad(format!("{:?} is not an IP address", b.address)),
    }
}

#[derive(Deserialize)]
pub struct Advance {
    seconds: u64,
}

/// Moves a test clock forward (only when the server was started with `CALAMARI_TEST_CLOCK=1`).
pub async fn advance_clock(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<Advance>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    if s.state.clock.advance(b.seconds.saturating_mul(1_000_000)) {
        reply(StatusCode::OK, json!({ "now": s.state.clock.now_us() / 1_000_000 }))
    } else {
        bad("this server runs on the system clock")
    }
}
