//! `calamari market …`, `calamari import`, `calamari reset` and `calamari snapshot …`: the
//! simulated market and the exchange's whole state, through the running server's admin interface.

use super::admin_client::{Admin, Target};
use super::Cmd;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum MarketCmd {
    /// The book, the last trades and the simulator's state for one pair.
    Show { pair: String },
    /// Start the simulated traders (a fresh exchange gets their accounts and history first).
    On,
    /// Stop them: a quiet exchange with only the users' own orders (their orders stay).
    Off,
    /// Drive a pair's reference price from its imported history, at `--speed` times real time
    /// (0: back to the random walk).
    Replay {
        pair: String,
        #[arg(long, default_value_t = 1)]
        speed: u64,
    },
    /// Print a pair's trades (`--kind trades`) or candles (`--kind 60`) as Kraken's CSV files.
    Export {
        pair: String,
        #[arg(long, default_value = "trades")]
        kind: String,
    },
    /// Market states: list them, or set a pair's (`XBTUSD cancel_only`: online, cancel_only,
    /// post_only, limit_only, reduce_only, maintenance) or the whole market's (`--system
    /// maintenance`: online, cancel_only, post_only, maintenance).
    Status {
        #[arg(long)]
        system: bool,
        args: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The pair the file is for (altname or id).
    pub pair: String,
    /// Kraken's OHLCVT (`timestamp,open,high,low,close,volume,trades`) or time-and-sales
    /// (`timestamp,price,volume`) CSV file.
    pub file: PathBuf,
    /// An OHLCVT file's interval in minutes (else from a `_60.csv` name or the rows' spacing).
    #[arg(long)]
    pub interval: Option<u32>,
}

#[derive(Args, Debug)]
pub struct ResetArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCmd {
    /// Keep the whole state (accounts, orders, keys, market) under a name.
    Save {
        name: String,
    },
    /// Bring a kept state back (everything since is lost).
    Restore {
        name: String,
        #[arg(long)]
        yes: bool,
    },
    List,
}

fn confirm(question: &str) -> Result<bool, String> {
    print!("{question} [y/N] ");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Runs one of these commands against the server `target` finds; `--json` prints the admin
/// answer itself.
pub fn run(target: &Target, json: bool, cmd: Cmd) -> Result<i32, String> {
    let admin = Admin::find(target)?;
    match cmd {
        Cmd::Market { action: MarketCmd::Show { pair } } => {
            let q = serde_urlencoded::to_string([("pair", pair.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/market?{q}"))?;
            if json {
                println!("{v}");
            } else {
                print_show(&v);
            }
        }
        Cmd::Market { action: MarketCmd::On } | Cmd::Market { action: MarketCmd::Off } => {
            let on = matches!(cmd, Cmd::Market { action: MarketCmd::On });
            let v = admin.post("/admin/market/switch", json!({ "enabled": on }))?;
            say(json, &v, || println!("the simulated market is {}", if on { "on" } else { "off" }));
        }
        Cmd::Market { action: MarketCmd::Replay { pair, speed } } => {
            let v = admin.post("/admin/market/replay", json!({ "pair": pair, "speed": speed }))?;
            say(json, &v, || match speed {
                0 => println!("{pair}: back to the random walk"),
                _ => println!("{pair}: replaying {} points at {speed}x", v["points"]),
            });
        }
        Cmd::Market { action: MarketCmd::Status { system, args } } => return super::market_status::run(&admin, json, system, &args),
        Cmd::Market { action: MarketCmd::Export { pair, kind } } => {
            let q = serde_urlencoded::to_string([("pair", pair.as_str()), ("kind", kind.as_str())]).map_err(|e| e.to_string())?;
            let v = admin.get(&format!("/admin/market/export?{q}"))?;
            print!("{}", v["csv"].as_str().unwrap_or(""));
        }
        Cmd::Import(a) => {
            let text = std::fs::read_to_string(&a.file).map_err(|e| format!("{}: {e}", a.file.display()))?;
            let name = a.file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let v = admin.post("/admin/market/import", json!({ "pair": a.pair, "name": name, "text": text, "interval": a.interval }))?;
            say(json, &v, || println!("imported {} {} into {}", v["imported"], v["kind"].as_str().unwrap_or(""), a.pair));
        }
        Cmd::Reset(a) => {
            if !a.yes && !confirm("Reset the exchange to its initial state? Every account, order, trade and key is lost.")? {
                println!("nothing changed");
                return Ok(1);
            }
            let v = admin.post("/admin/reset", json!({}))?;
            say(json, &v, || {
                println!("The exchange is back to its initial state. New demo key (the secret is shown only now):");
                println!("API key:     {}", v["key"].as_str().unwrap_or(""));
                println!("API secret:  {}", v["secret"].as_str().unwrap_or(""));
            });
        }
        Cmd::Snapshot { action: SnapshotCmd::Save { name } } => {
            let v = admin.post("/admin/snapshots/save", json!({ "name": name }))?;
            say(json, &v, || println!("saved snapshot {name}"));
        }
        Cmd::Snapshot { action: SnapshotCmd::Restore { name, yes } } => {
            if !yes && !confirm(&format!("Restore snapshot {name}? Everything since it was saved is lost."))? {
                println!("nothing changed");
                return Ok(1);
            }
            let v = admin.post("/admin/snapshots/restore", json!({ "name": name }))?;
            say(json, &v, || println!("restored snapshot {name} ({} commands)", v["records"]));
        }
        Cmd::Snapshot { action: SnapshotCmd::List } => {
            let v = admin.get("/admin/snapshots")?;
            say(json, &v, || {
                for n in v["snapshots"].as_array().into_iter().flatten() {
                    println!("{}", n.as_str().unwrap_or(""));
                }
            });
        }
        _ => return Err("not a market command".into()),
    }
    Ok(0)
}

/// The text form, or the admin answer itself with `--json`.
fn say(json: bool, v: &Value, text: impl FnOnce()) {
    if json {
        println!("{v}");
    } else {
        text()
    }
}

fn print_show(v: &Value) {
    let s = &v["simulator"];
    println!(
        "{}  last {}  index {}  simulator {}  (seed {}, step {})",
        v["pair"].as_str().unwrap_or(""),
        v["last"].as_str().unwrap_or(""),
        v["index"].as_str().unwrap_or(""),
        if s["enabled"] == true { "on" } else { "off" },
        s["seed"],
        s["step"]
    );
    let rows = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let (asks, bids) = (rows("asks"), rows("bids"));
    println!("{:>18} {:>18} | {:<18} {:<18}", "bid volume", "bid", "ask", "ask volume");
    for i in 0..asks.len().max(bids.len()) {
        let cell = |r: &[Value], j: usize| r.get(i).and_then(|x| x[j].as_str()).unwrap_or("").to_string();
        println!("{:>18} {:>18} | {:<18} {:<18}", cell(&bids, 1), cell(&bids, 0), cell(&asks, 0), cell(&asks, 1));
    }
    println!("last trades (price, volume, time, taker side):");
    for t in rows("trades").iter().rev() {
        println!("  {} {} {} {}", t[0].as_str().unwrap_or(""), t[1].as_str().unwrap_or(""), t[2], t[3].as_str().unwrap_or(""));
    }
    for who in ["maker", "taker"] {
        if !v[who].is_null() {
            println!(
                "{who}: base {}  quote {}  open orders {}",
                v[who]["base"].as_str().unwrap_or(""),
                v[who]["quote"].as_str().unwrap_or(""),
                v[who]["open_orders"]
            );
        }
    }
    println!("simulator: {}", s["params"]);
    if !s["replay"].is_null() {
        println!("replay: {}", s["replay"]);
    }
}
