//! Sign-up, log-in and log-out. Sign-up creates the account through the engine (the same
//! `CreateAccount` command as `calamari account create`), sets its password and credits the
//! configured test money as deposits; it can be turned off (`[console] signup = false`). Log-in
//! verifies the Argon2id hash, counts failures per account (a lockout after `lockout_after` in a
//! row) and replaces the visitor's session with a new one. The answer to a wrong name and to a
//! wrong password is the same line.

use super::layout::{bare, csrf, error, notice};
use super::{csrf_ok, field, passwords, Ctx, Fields, Shared};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};

const WRONG: &str = "Wrong account name or password.";

fn login_form(ctx: &Ctx, name: &str, signup: bool) -> Markup {
    html! {
        form.card method="post" action="/console/login" {
            (csrf(&ctx.session))
            label for="account" { "Account name" }
            input id="account" name="account" autocomplete="username" required value=(name) autofocus;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Log in" }
        }
        @if signup { p { "No account yet? " a href="/console/signup" { "Sign up" } } }
    }
}

pub async fn login_page(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    if ctx.account().is_some() {
        return ctx.see_other("/console/balances");
    }
    let out = q.iter().any(|(k, _)| k == "out");
    let body = html! {
        @if out { (notice("You are logged out.")) }
        (login_form(&ctx, "", s.config.console.signup))
    };
    ctx.ok(bare(&ctx.session, "Log in", body))
}

pub async fn login(State(s): State<Shared>, ctx: Ctx, Form(f): Form<Fields>) -> Response {
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    let name = field(&f, "account").unwrap_or("").trim().to_string();
    let password = field(&f, "password").unwrap_or("");
    let now = s.state.clock.now_us();
    let account = s.account_id(&name).await.ok();
    let refuse = |ctx: &Ctx, text: &str| {
        let body = html! { (error(text)) (login_form(ctx, &name, s.config.console.signup)) };
        ctx.html(StatusCode::UNAUTHORIZED, bare(&ctx.session, "Log in", body))
    };
    if let Some(left) = account.and_then(|a| s.sessions.locked(a, now)) {
        return refuse(&ctx, &format!("Too many failed log-ins: this account is locked for {left} more seconds."));
    }
    if !passwords::check(&s, account, password).await {
        if let Some(a) = account {
            s.sessions.failed(a, now);
        }
        // Only an existing account's name (engine-checked characters) reaches the log, never
        // what a client typed for an unknown one.
        match account {
            Some(_) => tracing::info!(account = %name, "console log-in refused"),
            None => tracing::info!("console log-in refused (no such account)"),
        }
        return refuse(&ctx, WRONG);
    }
    let id = account.unwrap_or_default();
    s.sessions.succeeded(id);
    let new = s.sessions.log_in(&ctx.session, (id, name.clone()), now);
    tracing::info!(account = %name, "console log-in");
    logged_in(&new.id, "/console/balances")
}

/// The redirect that carries a new session's cookie.
fn logged_in(session_id: &str, to: &str) -> Response {
    let mut r = axum::response::IntoResponse::into_response(axum::response::Redirect::to(to));
    if let Ok(v) = HeaderValue::from_str(&super::session::set_cookie(session_id)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn signup_form(ctx: &Ctx, name: &str) -> Markup {
    html! {
        form.card method="post" action="/console/signup" {
            (csrf(&ctx.session))
            label for="account" { "Account name" }
            input id="account" name="account" autocomplete="username" required maxlength="64" value=(name)
                aria-describedby="account-help" autofocus;
            small id="account-help" { "Letters, digits and - _ . @" }
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="new-password" required
                minlength=(passwords::MIN_LEN) maxlength=(passwords::MAX_LEN) aria-describedby="password-help";
            small id="password-help" { "At least " (passwords::MIN_LEN) " characters." }
            label for="password2" { "Password again" }
            input id="password2" name="password2" type="password" autocomplete="new-password" required;
            button type="submit" { "Create account" }
        }
        p { "Have an account? " a href="/console/login" { "Log in" } }
    }
}

fn signup_disabled(ctx: &Ctx) -> Response {
    let body = html! {
        (error("Sign-up is turned off on this exchange. Ask its operator for an account (calamari account create, then calamari account password)."))
        p { a href="/console/login" { "Log in" } }
    };
    ctx.html(StatusCode::FORBIDDEN, bare(&ctx.session, "Sign up", body))
}

pub async fn signup_page(State(s): State<Shared>, ctx: Ctx) -> Response {
    if !s.config.console.signup {
        return signup_disabled(&ctx);
    }
    ctx.ok(bare(&ctx.session, "Sign up", signup_form(&ctx, "")))
}

pub async fn signup(State(s): State<Shared>, ctx: Ctx, Form(f): Form<Fields>) -> Response {
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    if !s.config.console.signup {
        return signup_disabled(&ctx);
    }
    let name = field(&f, "account").unwrap_or("").trim().to_string();
    let password = field(&f, "password").unwrap_or("");
    let refuse = |text: &str| {
        let body = html! { (error(text)) (signup_form(&ctx, &name)) };
        ctx.html(StatusCode::BAD_REQUEST, bare(&ctx.session, "Sign up", body))
    };
    if let Err(e) = passwords::acceptable(password) {
        return refuse(&format!("Not created: {e}."));
    }
    if field(&f, "password2") != Some(password) {
        return refuse("Not created: the two passwords differ.");
    }
    if s.account_id(&name).await.is_ok() {
        return refuse("Not created: that name is taken.");
    }
    let id = match s.create_account(&name).await {
        Ok(id) => id,
        Err(_) => return refuse("Not created: an account name has 1 to 64 letters, digits or - _ . @ (not starting with @)."),
    };
    if let Err(e) = passwords::set(&s, id, password).await {
        return refuse(&format!("Not created: {e}."));
    }
    for (asset, amount) in &s.config.console.signup_balances {
        if let Err(e) = s.deposit(&name, asset, amount).await {
            tracing::warn!(account = %name, asset, error = %e, "sign-up balance not credited");
        }
    }
    tracing::info!(account = %name, "console sign-up");
    let new = s.sessions.log_in(&ctx.session, (id, name), s.state.clock.now_us());
    logged_in(&new.id, "/console/balances")
}

pub async fn logout(State(s): State<Shared>, ctx: Ctx, Form(f): Form<Fields>) -> Response {
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    s.sessions.end(&ctx.session.id);
    ctx.see_other("/console/login?out=1")
}
