//! The operator's side of the web console: setting an account's console password
//! (`calamari account password NAME`). The body holds the password in clear over loopback; the
//! request log names only the route, and only the Argon2id hash is stored.

use super::{bad, reply, Shared};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

#[derive(Deserialize)]
pub struct SetPassword {
    account: String,
    password: String,
}

pub async fn set_password(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Json(b): Json<SetPassword>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let id = match s.account_id(&b.account).await {
        Ok(id) => id,
        Err(_) => return bad(format!("no account named {:?}", b.account)),
    };
    match crate::console::passwords::set(&s, id, &b.password).await {
        Ok(()) => {
            let url = std::fs::read_to_string(s.data_dir.join(crate::server::SERVER_FILE))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["url"].as_str().map(str::to_string))
                .unwrap_or_default();
            reply(StatusCode::OK, json!({ "account": b.account, "id": id, "password_set": true, "url": url }))
        }
        Err(e) => bad(e),
    }
}
