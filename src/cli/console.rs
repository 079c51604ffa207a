//! `calamari account password NAME`: gives an account (made by `account create`, or the demo
//! account) a web console password. The password is read from standard input (one line; at a
//! terminal a prompt is shown) and sent to the running server's admin interface, which stores
//! only its Argon2id hash; it is never an argument, so it is not in the shell history or `ps`.

use super::admin_client::Admin;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};

pub fn password(admin: &Admin, name: &str, as_json: bool) -> Result<Value, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("New console password for {name} (shown as you type): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("no password on standard input (e.g. `printf '%s\\n' 'a long password' | calamari account password NAME`)".into());
    }
    let v = admin.post("/admin/accounts/password", json!({ "account": name, "password": password }))?;
    if !as_json {
        println!("console password of {name} set; log in at {}/console/", v["url"].as_str().unwrap_or(""));
    }
    Ok(v)
}
