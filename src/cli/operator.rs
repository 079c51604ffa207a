//! The operator's commands, each a client of the running server's admin interface: accounts,
//! keys, deposits, limits, lockouts and the audit. Each prints text for a person, or the admin
//! answer itself with `--json`.

use super::admin_client::{Admin, Target};
use super::{AccountCmd, Cmd, KeyCmd, KeySettingsArgs};
use serde_json::{json, Value};

/// Runs one operator command against the server `target` finds.
pub fn run(target: &Target, as_json: bool, cmd: Cmd) -> Result<i32, String> {
    let admin = Admin::find(target)?;
    let (v, code) = match cmd {
        Cmd::Account { action } => (account(&admin, action, as_json)?, 0),
        Cmd::Key { action } => (key(&admin, action, as_json)?, 0),
        Cmd::Deposit { account, asset, amount } => {
            let v = admin.post("/admin/deposits", json!({ "account": account, "asset": asset, "amount": amount }))?;
            text(as_json, || println!("deposited {amount} {asset} to {account} (refid {})", s(&v["refid"])));
            (v, 0)
        }
        Cmd::Audit => {
            let v = admin.get("/admin/audit")?;
            let code = if v["ok"] == true { 0 } else { 1 };
            text(as_json, || println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()));
            (v, code)
        }
        Cmd::Limits { who } => {
            let q = serde_urlencoded::to_string([("who", who.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/limits?{q}"))?;
            text(as_json, || print_limits(&v));
            (v, 0)
        }
        Cmd::Lockouts { lift: Some(address) } => {
            let v = admin.post("/admin/lockouts/lift", json!({ "address": address }))?;
            text(as_json, || println!("{}", if v["lifted"] == true { "lifted" } else { "that address was not locked out" }));
            (v, 0)
        }
        Cmd::Lockouts { lift: None } => {
            let v = admin.get("/admin/lockouts")?;
            text(as_json, || print_lockouts(&v));
            (v, 0)
        }
        Cmd::Serve { .. } | Cmd::Replay { .. } | Cmd::Call { .. } | Cmd::Chain { .. } | Cmd::AddressBook { .. } | Cmd::Adjust { .. } => {
            unreachable!("not run here")
        }
        Cmd::Market { .. } | Cmd::Import(_) | Cmd::Reset(_) | Cmd::Snapshot { .. } | Cmd::Log { .. } => unreachable!("run elsewhere"),
    };
    if as_json {
        println!("{v}");
    }
    Ok(code)
}

/// Prints the text form unless `--json` was given.
fn text(as_json: bool, print: impl FnOnce()) {
    if !as_json {
        print()
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn names(v: &Value) -> String {
    v.as_array().map(|a| a.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

fn account(admin: &Admin, action: AccountCmd, as_json: bool) -> Result<Value, String> {
    Ok(match action {
        AccountCmd::Create { name } => {
            let v = admin.post("/admin/accounts", json!({ "name": name }))?;
            text(as_json, || println!("created account {} (id {})", s(&v["account"]), v["id"]));
            v
        }
        AccountCmd::Tier { name, tier } => {
            let v = admin.post("/admin/accounts/tier", json!({ "account": name, "tier": tier }))?;
            text(as_json, || println!("account {name} is now {}", s(&v["tier"])));
            v
        }
        AccountCmd::Password { name } => super::console::password(admin, &name, as_json)?,
        AccountCmd::List => {
            let v = admin.get("/admin/accounts")?;
            text(as_json, || {
                println!("{:<24} {:>5}  {:<13} {:>4} {:>11}", "ACCOUNT", "ID", "TIER", "KEYS", "OPEN ORDERS");
                for a in v["accounts"].as_array().into_iter().flatten() {
                    println!(
                        "{:<24} {:>5}  {:<13} {:>4} {:>11}",
                        s(&a["name"]),
                        a["id"].to_string(),
                        s(&a["tier"]),
                        a["keys"].to_string(),
                        a["open_orders"].to_string()
                    );
                }
            });
            v
        }
        AccountCmd::Show { name } => {
            let q = serde_urlencoded::to_string([("name", name.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/accounts/show?{q}"))?;
            text(as_json, || print_account(&v));
            v
        }
    })
}

fn print_account(v: &Value) {
    println!("account {} (id {}), tier {}", s(&v["name"]), v["id"], s(&v["tier"]));
    println!("\n{:<8} {:>24} {:>24} {:>24}", "ASSET", "BALANCE", "HOLD", "AVAILABLE");
    for (asset, b) in v["balances"].as_object().into_iter().flatten() {
        println!("{asset:<8} {:>24} {:>24} {:>24}", s(&b["balance"]), s(&b["hold"]), s(&b["available"]));
    }
    let open = v["open_orders"].as_object().cloned().unwrap_or_default();
    println!("\nopen orders: {}", open.len());
    for (txid, o) in &open {
        println!("  {txid}  {}  executed {}", s(&o["descr"]["order"]), s(&o["vol_exec"]));
    }
    let keys = v["keys"].as_array().cloned().unwrap_or_default();
    println!("\nkeys: {}", keys.len());
    for k in &keys {
        println!("  {}  name={}  permissions={}", s(&k["key"]), s(&k["name"]), names(&k["permissions"]));
    }
}

fn key(admin: &Admin, action: KeyCmd, as_json: bool) -> Result<Value, String> {
    Ok(match action {
        KeyCmd::Create { account, name, permissions, env, settings } => {
            let (settings, totp) = settings.to_request();
            let body = json!({ "account": account, "name": name, "permissions": permissions, "settings": settings });
            let mut v = admin.post("/admin/keys", body)?;
            if let Some(t) = &totp {
                v["totp_secret"] = json!(t);
            }
            if env {
                // For `eval "$(calamari key create … --env)"`: only shell, the note to stderr.
                if let Some(note) = v["note"].as_str() {
                    eprintln!("calamari: key {name}: {note}");
                }
                println!("export KRAKEN_API_KEY='{}' KRAKEN_API_SECRET='{}'", s(&v["key"]), s(&v["secret"]));
                return Ok(Value::Null);
            }
            text(as_json, || {
                print_totp(totp.as_deref());
                println!("API key:     {}", s(&v["key"]));
                println!("API secret:  {}", s(&v["secret"]));
                println!("Permissions: {}", names(&v["permissions"]));
                if let Some(note) = v["note"].as_str() {
                    println!("Note:        {note}");
                }
                println!("The secret is shown only now; it is stored encrypted.");
            });
            v
        }
        KeyCmd::Set { key, permissions, settings } => {
            let mut out = json!({ "key": key });
            if let Some(p) = &permissions {
                let v = admin.post("/admin/keys/permissions", json!({ "key": key, "permissions": p }))?;
                text(as_json, || {
                    println!("permissions: {}", names(&v["permissions"]));
                    if let Some(note) = v["note"].as_str() {
                        println!("note: {note}");
                    }
                });
                out["permissions"] = v["permissions"].clone();
                out["note"] = v["note"].clone();
            }
            if permissions.is_none() || settings != KeySettingsArgs::default() {
                let (body, totp) = settings.to_request();
                let v = admin.post("/admin/keys/settings", json!({ "key": key, "settings": body }))?;
                text(as_json, || {
                    println!("settings: {}", v["settings"]);
                    print_totp(totp.as_deref());
                });
                out["settings"] = v["settings"].clone();
                if let Some(t) = totp {
                    out["totp_secret"] = json!(t);
                }
            }
            out
        }
        KeyCmd::Show { key } => {
            let q = serde_urlencoded::to_string([("key", key.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/keys/show?{q}"))?;
            text(as_json, || {
                println!("API key:     {}", s(&v["key"]));
                println!("account:     {}", s(&v["account"]));
                println!("name:        {}", s(&v["name"]));
                println!("permissions: {}", names(&v["permissions"]));
                println!("created:     {}", v["created_at"]);
                println!("settings:    {}", v["settings"]);
                println!("nonce:       {}", s(&v["highest_nonce"]));
            });
            v
        }
        KeyCmd::List => {
            let v = admin.get("/admin/keys")?;
            text(as_json, || {
                for k in v["keys"].as_array().into_iter().flatten() {
                    println!(
                        "{}  account={}  name={}  permissions={}",
                        s(&k["key"]),
                        s(&k["account"]),
                        s(&k["name"]),
                        names(&k["permissions"])
                    );
                }
            });
            v
        }
        KeyCmd::Revoke { key } => {
            let v = admin.post("/admin/keys/revoke", json!({ "key": key }))?;
            if v["revoked"] != true {
                return Err(format!("no live key {key:?}"));
            }
            text(as_json, || println!("revoked"));
            v
        }
    })
}

fn print_totp(secret: Option<&str>) {
    if let Some(t) = secret {
        println!("TOTP secret: {t}   (add it to an authenticator app; send its code as `otp`; shown only now)");
    }
}

fn print_lockouts(v: &Value) {
    let list = v["lockouts"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no lockouts ({} addresses tracked)", v["tracked_addresses"]);
    }
    for l in list {
        println!("{}  locked for {} more seconds (until {})", s(&l["address"]), l["seconds_left"], l["until"]);
    }
}

fn print_limits(v: &Value) {
    println!("account id {}  tier {}  profile {}", v["account_id"], s(&v["tier"]), s(&v["profile"]));
    if !v["open_orders_per_pair"].is_null() {
        println!("open orders per pair: at most {}", v["open_orders_per_pair"]);
    }
    for c in v["counters"].as_array().into_iter().flatten() {
        println!(
            "{:<40} {:>8.2} of {:<8.2} drains {:.2}/s, empty in {:.1} s",
            s(&c["name"]),
            c["level"].as_f64().unwrap_or(0.0),
            c["max"].as_f64().unwrap_or(0.0),
            c["decay_per_sec"].as_f64().unwrap_or(0.0),
            c["drains_in_secs"].as_f64().unwrap_or(0.0)
        );
    }
}
