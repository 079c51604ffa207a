//! The web console: Kraken's account pages in the browser, served by the same listener as the API
//! under `/console/` (`/` redirects there), and the live market view (`/console/markets`, see
//! [`market`]). Server-rendered with maud; the one stylesheet, the small scripts and the vendored
//! chart library are compiled into the binary; no inline script or style, so the
//! Content-Security-Policy forbids both. Every page that changes something is a POST carrying the
//! session's CSRF token; sessions are HTTP-only, SameSite=Strict cookies (`session`).
//!
//! Nothing here has rules of its own: account pages call the API's own methods
//! (`api::private::dispatch` with [`crate::api::Caller::console`]), and the key pages call the
//! same `Server` functions as `calamari key create/set/revoke`, so the tier's grant rule, the
//! engine's checks and the storage are one code path.

mod accounts;
mod funding;
mod keys;
mod layout;
mod market;
mod market_ticket;
mod pages;
pub mod passwords;
pub mod session;
mod time;

use crate::server::Server;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use session::Session;
use std::sync::Arc;

type Shared = Arc<Server>;

/// The stylesheet, the script and the icon, embedded in the binary.
const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const ICON: &str = include_str!("assets/favicon.svg");
/// The market view's script and the chart library it draws candles with (vendored from npm,
/// see assets/vendor/README.md), with the library's licence.
const MARKET_JS: &str = include_str!("assets/market.js");
const CHARTS_JS: &str = include_str!("assets/vendor/lightweight-charts.standalone.production.js");
const CHARTS_LICENSE: &str = include_str!("assets/vendor/LICENSE-lightweight-charts");

/// Content-Security-Policy of every console answer: nothing but this origin's own files, no
/// inline script or style, no framing, forms only to this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(server: Shared) -> Router {
    let log = axum::middleware::from_fn_with_state(server.state.clone(), crate::telemetry::http::record);
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(home))
        .route("/console/assets/console.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/console/assets/console.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/console/assets/favicon.svg", get(|| async { asset("image/svg+xml", ICON) }))
        .route("/console/assets/market.js", get(|| async { asset("text/javascript; charset=utf-8", MARKET_JS) }))
        .route(
            "/console/assets/vendor/lightweight-charts.standalone.production.js",
            get(|| async { asset("text/javascript; charset=utf-8", CHARTS_JS) }),
        )
        .route("/console/assets/vendor/LICENSE-lightweight-charts", get(|| async { asset("text/plain; charset=utf-8", CHARTS_LICENSE) }))
        .route("/console/markets", get(market::board))
        .route("/console/markets/order", post(market_ticket::place))
        .route("/console/markets/{pair}", get(market::pair_page))
        .route("/console/login", get(accounts::login_page).post(accounts::login))
        .route("/console/signup", get(accounts::signup_page).post(accounts::signup))
        .route("/console/logout", post(accounts::logout))
        .route("/console/balances", get(pages::balances))
        .route("/console/orders", get(pages::orders))
        .route("/console/orders/cancel", post(pages::cancel))
        .route("/console/trades", get(pages::trades))
        .route("/console/ledger", get(pages::ledger))
        .route("/console/account", get(pages::account))
        .route("/console/funding", get(funding::funding))
        .route("/console/funding/address", post(funding::new_address))
        .route("/console/funding/withdraw", post(funding::withdraw))
        .route("/console/funding/cancel", post(funding::cancel))
        .route("/console/keys", get(keys::list).post(keys::create))
        .route("/console/keys/edit", get(keys::edit_page).post(keys::edit))
        .route("/console/keys/revoke", get(keys::revoke_page).post(keys::revoke))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::map_response(security_headers))
        .layer(crate::telemetry::http::catch_panic())
        .route_layer(log)
        .with_state(server)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// The headers of every console answer; pages (not the two assets) are never cached, so a page
/// that showed a secret cannot be shown again from a cache.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    r
}

/// The visitor's session, found by its cookie or created.
pub struct Ctx {
    pub session: Session,
    /// A new session: its cookie goes out with the answer.
    fresh: bool,
}

impl FromRequestParts<Shared> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Ctx, Self::Rejection> {
        let (session, fresh) = s.sessions.current(&parts.headers, s.state.clock.now_us());
        Ok(Ctx { session, fresh })
    }
}

impl Ctx {
    /// The logged-in account, `(id, name)`.
    pub fn account(&self) -> Option<(u32, String)> {
        self.session.account.clone()
    }

    /// Adds the session cookie when the session is new.
    fn finish(&self, mut r: Response) -> Response {
        if self.fresh {
            if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&self.session.id)) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }

    pub fn html(&self, status: StatusCode, m: Markup) -> Response {
        self.finish((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], m.into_string()).into_response())
    }

    pub fn ok(&self, m: Markup) -> Response {
        self.html(StatusCode::OK, m)
    }

    /// 303 to `to` (after a POST, the browser GETs the next page).
    pub fn see_other(&self, to: &str) -> Response {
        self.finish(Redirect::to(to).into_response())
    }

    pub fn to_login(&self) -> Response {
        self.see_other("/console/login")
    }

    /// A POST whose CSRF token is missing or wrong: 403, nothing done.
    pub fn forbidden(&self) -> Response {
        let body = maud::html! {
            p { "This form has expired or did not come from this console (CSRF token missing or wrong). Nothing was changed." }
            p { a href="/console/" { "Back to the console" } }
        };
        self.html(StatusCode::FORBIDDEN, layout::bare(&self.session, "Refused", body))
    }
}

/// A form's fields in order (a name may repeat: the permission checkboxes).
pub type Fields = Vec<(String, String)>;

pub fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Whether a posted form carries the session's CSRF token.
pub fn csrf_ok(ctx: &Ctx, f: &Fields) -> bool {
    session::Sessions::csrf_ok(&ctx.session, field(f, "csrf"))
}

async fn home(ctx: Ctx) -> Response {
    if ctx.account().is_some() {
        ctx.see_other("/console/balances")
    } else {
        ctx.to_login()
    }
}
