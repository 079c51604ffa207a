//! `calamari market status [PAIR|--system] [STATE]`: the market states Kraken's operators set
//! (SystemStatus for the whole market, AssetPairs' `status` per pair), through the admin route.
//! Without a state it lists them; each change is a logged engine command.

use super::admin_client::Admin;
use serde_json::{json, Value};

/// `args` are the positionals after `status`: `[PAIR] [STATE]`, or `[STATE]` with `--system`.
pub fn run(admin: &Admin, json: bool, system: bool, args: &[String]) -> Result<i32, String> {
    let (pair, state) = match (system, args) {
        (_, []) => {
            let v = admin.get("/admin/market/status")?;
            print_states(json, &v);
            return Ok(0);
        }
        (true, [state]) => (None, state.clone()),
        (false, [pair, state]) => (Some(pair.clone()), state.clone()),
        (false, [_]) => return Err("give a pair and a state (calamari market status XBTUSD cancel_only), or --system and a state".into()),
        _ => return Err("too many arguments: calamari market status [PAIR|--system] [STATE]".into()),
    };
    let v = admin.post("/admin/market/status", json!({ "pair": pair, "status": state }))?;
    if json {
        println!("{v}");
    } else {
        match v["pair"].as_str() {
            Some(p) => println!("{p} is {}", v["status"].as_str().unwrap_or("")),
            None => println!("the market is {}", v["status"].as_str().unwrap_or("")),
        }
    }
    Ok(0)
}

fn print_states(json: bool, v: &Value) {
    if json {
        println!("{v}");
        return;
    }
    println!("system  {}", v["system"].as_str().unwrap_or(""));
    for (pair, status) in v["pairs"].as_object().into_iter().flatten() {
        println!("{pair:<8}{}", status.as_str().unwrap_or(""));
    }
}
