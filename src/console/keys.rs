//! The API keys page, laid out like Kraken's (Settings → API): the key's description, every
//! permission as a checkbox in Kraken's groups, the advanced settings (nonce window, IP
//! allowlist, expiry, query start/end, second factor), Generate → the key and its private key
//! shown once with copy buttons; the list of keys; edit; revoke after a confirmation page.
//! Every change calls the `Server` function `calamari key create/set/revoke` calls
//! (`create_key_with`, `set_key_permissions`, `set_key_settings`, `revoke_key`), so the tier's
//! grant rule (`auth::PermissionRequest::grant`: Withdraw Funds needs a verified account) and the
//! storage are the CLI's. A key is only ever touched for the account it belongs to.

use super::layout::{csrf, error, notice, page};
use super::{csrf_ok, field, time, Ctx, Fields, Shared};
use crate::admin::limits::KeySettingsInput;
use crate::auth::{PermissionRequest, Permissions as P};
use crate::key_settings::StoredSettings;
use crate::storage::KeyRecord;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use std::sync::atomic::Ordering;

/// A permission on the form: its bit, its form value (the API field name) and Kraken's label.
type Checkbox = (P, &'static str, &'static str);

/// Kraken's permission groups, each permission with its form value (the API field name).
const GROUPS: &[(&str, &[Checkbox])] = &[
    (
        "Funds",
        &[
            (P::QUERY_FUNDS, "funds_query", "Query"),
            (P::DEPOSIT_FUNDS, "funds_add", "Deposit"),
            (P::WITHDRAW_FUNDS, "funds_withdraw", "Withdraw"),
        ],
    ),
    (
        "Orders and trades",
        &[
            (P::QUERY_OPEN_ORDERS, "trades_query_open", "Query open orders & trades"),
            (P::QUERY_CLOSED_ORDERS, "trades_query_closed", "Query closed orders & trades"),
            (P::CREATE_MODIFY_ORDERS, "trades_modify", "Create & modify orders"),
            (P::CANCEL_CLOSE_ORDERS, "trades_close", "Cancel & close orders"),
        ],
    ),
    ("Data", &[(P::QUERY_LEDGER, "ledger_query", "Query ledger entries"), (P::EXPORT_DATA, "export_data", "Export data")]),
    ("WebSocket interface", &[(P::WEBSOCKETS, "websocket", "Access WebSockets API")]),
];

/// The account's live keys, in id order.
fn my_keys(s: &Shared, account: u32) -> Vec<KeyRecord> {
    s.key_store.list_keys().unwrap_or_default().into_iter().filter(|k| k.account_id == account && !k.revoked).collect()
}

fn my_key(s: &Shared, account: u32, f: impl Fn(&str) -> Option<String>) -> Option<KeyRecord> {
    let id: i64 = f("id")?.parse().ok()?;
    my_keys(s, account).into_iter().find(|k| k.id == id)
}

fn short(public_key: &str) -> String {
    format!("{}…{}", &public_key[..8.min(public_key.len())], &public_key[public_key.len().saturating_sub(4)..])
}

fn permission_boxes(have: P, verified: bool) -> Markup {
    html! {
        fieldset.perms {
            legend { "Permissions" }
            @for (group, perms) in GROUPS {
                fieldset.group {
                    legend { (group) }
                    @for (bit, value, label) in *perms {
                        label.check {
                            input type="checkbox" name="perm" value=(value) checked[have.contains(*bit)];
                            " " (label)
                        }
                        @if *bit == P::WITHDRAW_FUNDS && !verified {
                            small.warn { "Withdraw Funds needs a verified account (intermediate or pro); yours is not, so a key asking for it is refused." }
                        }
                    }
                }
            }
        }
    }
}

fn advanced(st: &StoredSettings, editing: bool) -> Markup {
    let otp = st.otp.as_ref().map(|o| o.kind.as_str());
    html! {
        details.advanced open[editing] {
            summary { "Advanced settings" }
            div.field {
                label for="nonce_window" { "Nonce window" }
                input id="nonce_window" name="nonce_window" type="number" min="0" value=(st.nonce_window) aria-describedby="nw-help";
                small id="nw-help" { "A nonce up to this much below the highest seen is still accepted, once (0: strictly increasing)." }
            }
            div.field {
                label for="ip_allowlist" { "IP allowlist" }
                textarea id="ip_allowlist" name="ip_allowlist" rows="2" aria-describedby="ip-help" { (st.ip_allowlist.join("\n")) }
                small id="ip-help" { "Addresses or CIDR blocks, one a line or comma-separated; empty: any address." }
            }
            div.field {
                label for="valid_until" { "Key expiration (UTC)" }
                input id="valid_until" name="valid_until" type="datetime-local" value=(time::input_value(st.valid_until));
            }
            div.field {
                label for="query_from" { "Query start (UTC)" }
                input id="query_from" name="query_from" type="datetime-local" value=(time::input_value(st.query_from));
            }
            div.field {
                label for="query_to" { "Query end (UTC)" }
                input id="query_to" name="query_to" type="datetime-local" value=(time::input_value(st.query_to));
            }
            div.field {
                label for="otp" { "Second factor (otp)" }
                select id="otp" name="otp" {
                    @if let Some(kind) = otp { option value="keep" selected { "Keep the current one (" (kind) ")" } }
                    option value="none" selected[otp.is_none()] { "None" }
                    option value="password" { "Static password" }
                    option value="totp" { "TOTP (authenticator app; the secret is shown once)" }
                }
                label for="otp_password" { "Static password (with “Static password”)" }
                input id="otp_password" name="otp_password" type="password" autocomplete="off";
            }
        }
    }
}

/// The permission request and settings a form asks for; the TOTP secret made for it (shown once).
fn read_form(s: &Shared, f: &Fields, old: Option<&StoredSettings>) -> Result<(PermissionRequest, StoredSettings, Option<String>), String> {
    let mut named = P::NONE;
    for (k, v) in f.iter().filter(|(k, _)| k == "perm") {
        let one = P::parse_list(v).map_err(|_| format!("unknown permission {k}={v:?}"))?;
        named = named | one;
    }
    let when = |name: &str| time::parse(field(f, name).unwrap_or("")).map_err(|e| format!("{name}: {e}"));
    let nonce_window = field(f, "nonce_window").map(str::trim).filter(|t| !t.is_empty()).unwrap_or("0");
    let mut input = KeySettingsInput {
        nonce_window: nonce_window.parse().map_err(|_| "the nonce window is a whole number".to_string())?,
        valid_until: when("valid_until")?,
        query_from: when("query_from")?,
        query_to: when("query_to")?,
        ip_allowlist: field(f, "ip_allowlist")
            .unwrap_or("")
            .split([',', '\n', '\r', ' '])
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim().to_string())
            .collect(),
        ..Default::default()
    };
    let mut totp = None;
    match field(f, "otp").unwrap_or("none") {
        "password" => input.otp_password = Some(field(f, "otp_password").unwrap_or("").to_string()),
        "totp" => {
            let b32 = crate::limits::second_factor::to_base32(&crate::crypto::random_api_secret()[..20]);
            input.otp_totp = Some(b32.clone());
            totp = Some(b32);
        }
        _ => {}
    }
    let mut stored = input.seal(&s.sbox)?;
    if field(f, "otp") == Some("keep") {
        stored.otp = old.and_then(|o| o.otp.clone());
    }
    Ok((PermissionRequest { named, all: false }, stored, totp))
}

fn create_form(ctx: &Ctx, verified: bool) -> Markup {
    html! {
        form.card method="post" action="/console/keys" {
            h2 { "Create a key" }
            (csrf(&ctx.session))
            label for="name" { "Key description" }
            input id="name" name="name" required maxlength="32" placeholder="e.g. my-bot";
            (permission_boxes(P::NONE, verified))
            (advanced(&StoredSettings::default(), false))
            button type="submit" { "Generate key" }
        }
    }
}

pub async fn list(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let verified = s.state.limits.tier(account).is_verified();
    let done = q.iter().find(|(k, _)| k == "done").map(|(_, v)| v.as_str());
    let keys = my_keys(&s, account);
    let body = html! {
        @if let Some(d) = done { (notice(d)) }
        @if keys.is_empty() { (notice("No API keys yet.")) } @else {
            div.scroll { table.keys.cards {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Permissions" }
                    th scope="col" { "Created (UTC)" } th scope="col" { "Last used (UTC)" } th scope="col" { span.sr { "Actions" } }
                } }
                tbody { @for k in &keys {
                    @let last = s.state.keys.get(&k.public_key).map(|l| l.last_used.load(Ordering::Relaxed)).unwrap_or(0);
                    tr data-key-name=(k.name) {
                        th scope="row" data-label="Name" { (k.name) }
                        td data-label="Key" { code { (short(&k.public_key)) } }
                        td.perms data-label="Permissions" { (P(k.permissions).names().join(", ")) }
                        td data-label="Created (UTC)" { (time::display(k.created_at)) }
                        td data-label="Last used (UTC)" { (time::display(last)) }
                        td.actions {
                            a href={ "/console/keys/edit?id=" (k.id) } aria-label={ "Edit key " (k.name) } { "Edit" }
                            " "
                            a.danger href={ "/console/keys/revoke?id=" (k.id) } aria-label={ "Revoke key " (k.name) } { "Revoke" }
                        }
                    }
                } }
            } }
        }
        (create_form(&ctx, verified))
    };
    ctx.ok(page(&ctx.session, "/console/keys", "API keys", body))
}

pub async fn create(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    let Some((account, name)) = ctx.account() else { return ctx.to_login() };
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    let verified = s.state.limits.tier(account).is_verified();
    let refuse = |text: String| {
        let body = html! { (error(&text)) (create_form(&ctx, verified)) };
        ctx.html(StatusCode::BAD_REQUEST, page(&ctx.session, "/console/keys", "API keys", body))
    };
    let (request, settings, totp) = match read_form(&s, &f, None) {
        Ok(x) => x,
        Err(e) => return refuse(format!("Not generated: {e}")),
    };
    let key_name = field(&f, "name").unwrap_or("").trim();
    let key = match s.create_key_with(&name, key_name, request, settings).await {
        Ok(k) => k,
        Err(e) => return refuse(format!("Not generated: {e}")),
    };
    tracing::info!(account = %name, key = %key_name, "console: API key created");
    let body = html! {
        div.secret role="alert" {
            p { strong { "Copy your private key now. It is shown this once: Calamari keeps only an encrypted copy and will never show it again." } }
        }
        div.field {
            label for="api-key" { "API key" }
            div.copyrow { input id="api-key" readonly value=(key.public_key); button type="button" data-copy="api-key" { "Copy" } }
        }
        div.field {
            label for="private-key" { "Private key" }
            div.copyrow { input id="private-key" readonly value=(key.secret_b64); button type="button" data-copy="private-key" { "Copy" } }
        }
        @if let Some(b32) = &totp {
            div.field {
                label for="totp-secret" { "TOTP secret (add it to your authenticator app; send its code as otp)" }
                div.copyrow { input id="totp-secret" readonly value=(b32); button type="button" data-copy="totp-secret" { "Copy" } }
            }
        }
        p { "Permissions: " (key.permissions.names().join(", ")) }
        @if let Some(n) = &key.note { (notice(n)) }
        p { a href="/console/keys" { "Done: back to the keys" } }
    };
    ctx.ok(page(&ctx.session, "/console/keys", "Key generated", body))
}

pub async fn edit_page(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let get = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let Some(k) = my_key(&s, account, get) else { return ctx.see_other("/console/keys") };
    ctx.ok(page(&ctx.session, "/console/keys", &format!("Edit key {}", k.name), edit_form(&s, &ctx, account, &k)))
}

fn edit_form(s: &Shared, ctx: &Ctx, account: u32, k: &KeyRecord) -> Markup {
    let stored: StoredSettings = serde_json::from_str(&k.settings).unwrap_or_default();
    html! {
        form.card method="post" action="/console/keys/edit" {
            (csrf(&ctx.session))
            input type="hidden" name="id" value=(k.id);
            p { "Key " code { (short(&k.public_key)) } ", created " (time::display(k.created_at)) " UTC." }
            (permission_boxes(P(k.permissions), s.state.limits.tier(account).is_verified()))
            (advanced(&stored, true))
            button type="submit" { "Save" }
            " " a href="/console/keys" { "Cancel" }
        }
    }
}

pub async fn edit(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    let Some(k) = my_key(&s, account, |n| field(&f, n).map(str::to_string)) else { return ctx.see_other("/console/keys") };
    let old: StoredSettings = serde_json::from_str(&k.settings).unwrap_or_default();
    let refuse = |text: String| {
        let body = html! { (error(&text)) (edit_form(&s, &ctx, account, &k)) };
        ctx.html(StatusCode::BAD_REQUEST, page(&ctx.session, "/console/keys", &format!("Edit key {}", k.name), body))
    };
    let (request, settings, totp) = match read_form(&s, &f, Some(&old)) {
        Ok(x) => x,
        Err(e) => return refuse(format!("Not saved: {e}")),
    };
    // The settings were checked by `seal` above, so a refused grant (here) changes nothing.
    if let Err(e) = s.set_key_permissions(&k.public_key, request).await {
        return refuse(format!("Not saved: {e}"));
    }
    if let Err(e) = s.set_key_settings(&k.public_key, settings) {
        return refuse(format!("Not saved: {e}"));
    }
    if let Some(b32) = totp {
        let body = html! {
            (notice(&format!("Key {} saved.", k.name)))
            div.field {
                label for="totp-secret" { "New TOTP secret (shown once)" }
                div.copyrow { input id="totp-secret" readonly value=(b32); button type="button" data-copy="totp-secret" { "Copy" } }
            }
            p { a href="/console/keys" { "Back to the keys" } }
        };
        return ctx.ok(page(&ctx.session, "/console/keys", "Key saved", body));
    }
    ctx.see_other(&format!(
        "/console/keys?{}",
        serde_urlencoded::to_string([("done", format!("Key {} saved.", k.name))]).unwrap_or_default()
    ))
}

pub async fn revoke_page(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let get = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let Some(k) = my_key(&s, account, get) else { return ctx.see_other("/console/keys") };
    let body = html! {
        p { "Revoke the key " strong { (k.name) } " (" code { (short(&k.public_key)) } ")? Every client using it will get "
            code { "EAPI:Invalid key" } " from now on. This cannot be undone." }
        form.inline method="post" action="/console/keys/revoke" {
            (csrf(&ctx.session))
            input type="hidden" name="id" value=(k.id);
            button.danger type="submit" { "Revoke key " (k.name) }
            " " a href="/console/keys" { "Keep it" }
        }
    };
    ctx.ok(page(&ctx.session, "/console/keys", "Revoke key", body))
}

pub async fn revoke(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    let Some(k) = my_key(&s, account, |n| field(&f, n).map(str::to_string)) else { return ctx.see_other("/console/keys") };
    let text = match s.revoke_key(&k.public_key) {
        Ok(_) => format!("Key {} revoked.", k.name),
        Err(e) => format!("Key {} not revoked: {e}", k.name),
    };
    ctx.see_other(&format!("/console/keys?{}", serde_urlencoded::to_string([("done", text)]).unwrap_or_default()))
}
