//! The operator's CLI against a real server: every command's `--json` answer parsed, `all` on
//! an unverified account, permission edits that the API then enforces, one-line errors with a
//! non-zero exit, and a server found from another directory by `--server` + token file.

mod common;

use common::{err, ok, Server, BIN};
use serde_json::Value;
use std::process::Command;

fn json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = s.cli(&all);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("calamari {args:?}: not one JSON object ({e}): {out}"))
}

#[test]
fn accounts_and_keys_from_the_cli() {
    let s = Server::start();
    json(&s, &["account", "create", "alice"]);
    json(&s, &["deposit", "--account", "alice", "USD", "1234.5"]);

    // `all` on an unverified account: everything but Withdraw Funds, and a note saying so.
    let bot = json(&s, &["key", "create", "--account", "alice", "--name", "bot", "--permissions", "all"]);
    let perms: Vec<&str> = bot["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(perms.len(), 9, "{perms:?}");
    assert!(!perms.contains(&"Withdraw Funds"));
    assert!(bot["note"].as_str().unwrap().contains("Withdraw Funds"));
    // By name it is still refused, in one line, with a non-zero exit.
    let (okay, out) = s.try_cli(&["key", "create", "--account", "alice", "--name", "w", "--permissions", "Withdraw Funds"]);
    assert!(!okay);
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    assert!(out.starts_with("calamari: Withdraw Funds needs a verified account"), "{out}");

    let list = json(&s, &["account", "list"]);
    let alice = list["accounts"].as_array().unwrap().iter().find(|a| a["name"] == "alice").expect("alice listed");
    assert_eq!((alice["tier"].as_str(), alice["keys"].as_u64(), alice["open_orders"].as_u64()), (Some("unverified"), Some(1), Some(0)));
    assert!(list["accounts"].as_array().unwrap().iter().any(|a| a["name"] == "demo" && a["tier"] == "intermediate"));

    // A resting order shows in `account show` with its hold.
    let k = common::Key { key: bot["key"].as_str().unwrap().into(), secret: bot["secret"].as_str().unwrap().into() };
    let placed =
        s.private(&k, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.01")]);
    let txid = ok(&placed)["txid"][0].as_str().unwrap().to_string();
    let shown = json(&s, &["account", "show", "alice"]);
    assert_eq!(shown["tier"], "unverified");
    assert_eq!(shown["balances"]["USD"]["balance"], "1234.5000");
    let hold = shown["balances"]["USD"]["hold"].as_str().unwrap().parse::<f64>().unwrap();
    assert!(hold >= 10.0, "a 10 USD buy holds at least its cost: {hold}");
    assert_eq!(shown["open_orders"].as_object().unwrap().keys().collect::<Vec<_>>(), vec![&txid]);
    assert_eq!(shown["open_orders"][&txid]["descr"]["order"], "buy 0.01000000 XBTUSD @ limit 1000.0");
    assert_eq!(shown["keys"].as_array().unwrap().len(), 1);
    assert!(shown["keys"][0].get("secret").is_none());

    // Permissions edited as on Kraken's key page; the API enforces the new set at once.
    let set = json(&s, &["key", "set", &k.key, "--permissions", "Query Funds"]);
    assert_eq!(set["permissions"], serde_json::json!(["Query Funds"]));
    assert!(ok(&s.private(&k, "Balance", &[])).is_object());
    assert_eq!(err(&s.private(&k, "OpenOrders", &[])), "EGeneral:Permission denied");
    let shown_key = json(&s, &["key", "show", &k.key]);
    assert_eq!((shown_key["account"].as_str(), shown_key["name"].as_str()), (Some("alice"), Some("bot")));
    assert_eq!(shown_key["permissions"], serde_json::json!(["Query Funds"]));
    assert!(shown_key["highest_nonce"].as_str().unwrap().parse::<u64>().unwrap() > 0, "the key's nonces survive the edit");
    let (okay, out) = s.try_cli(&["key", "set", &k.key, "--permissions", "Withdraw Funds"]);
    assert!(!okay && out.contains("verified account"), "{out}");
    json(&s, &["account", "tier", "alice", "intermediate"]);
    let set = json(&s, &["key", "set", &k.key, "--permissions", "all"]);
    assert_eq!((set["permissions"].as_array().unwrap().len(), set["note"].is_null()), (10, true));

    // Errors: one line, exit 1, for a missing account, key, and an unknown permission.
    for args in [
        &["account", "show", "nobody"][..],
        &["key", "show", "nokey"],
        &["key", "revoke", "nokey"],
        &["key", "set", &k.key, "--permissions", "teleport"],
    ] {
        let (okay, out) = s.try_cli(args);
        assert!(!okay, "{args:?}: {out}");
        assert_eq!(out.trim().lines().count(), 1, "{args:?}: {out}");
    }

    // Revoke, then the key is gone from show and list, and refused by the API.
    assert_eq!(json(&s, &["key", "revoke", &k.key])["revoked"], true);
    assert_eq!(err(&s.private(&k, "Balance", &[])), "EAPI:Invalid key");
    assert!(!json(&s, &["key", "list"])["keys"].as_array().unwrap().iter().any(|x| x["key"] == k.key.as_str()));

    // The other commands' --json answers parse too.
    assert!(json(&s, &["limits", "alice"])["counters"].is_array());
    assert!(json(&s, &["lockouts"])["lockouts"].is_array());
    assert_eq!(json(&s, &["audit"])["ok"], true);
}

#[test]
fn the_cli_finds_the_server_from_any_directory() {
    let s = Server::start();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .current_dir(elsewhere.path())
            .args(args)
            .env_remove("CALAMARI_DATA_DIR")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    // From a directory without ./calamari-data: one clear line naming the ways to find it.
    let (okay, _, stderr) = run(&["account", "list"], &[]);
    assert!(!okay);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--data-dir") && stderr.contains("--server"), "{stderr}");
    // CALAMARI_DATA_DIR, --data-dir, and --server with the token file all reach it.
    let dir = s.data_dir.to_str().unwrap();
    let token = s.data_dir.join("admin.token");
    for (args, env) in [
        (vec!["--json", "account", "list"], vec![("CALAMARI_DATA_DIR", dir)]),
        (vec!["--data-dir", dir, "--json", "account", "list"], vec![]),
        (vec!["--server", s.url.as_str(), "--admin-token-file", token.to_str().unwrap(), "--json", "account", "list"], vec![]),
    ] {
        let (okay, stdout, stderr) = run(&args, &env);
        assert!(okay, "{args:?}: {stderr}");
        let v: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(v["accounts"].as_array().unwrap().iter().any(|a| a["name"] == "demo"), "{args:?}");
    }
    // A wrong token is refused, in one line.
    let bad = elsewhere.path().join("bad.token");
    std::fs::write(&bad, "not-the-token").unwrap();
    let (okay, _, stderr) = run(&["--server", &s.url, "--admin-token-file", bad.to_str().unwrap(), "account", "list"], &[]);
    assert!(!okay && stderr.trim().lines().count() == 1, "{stderr}");
    // `call` finds the server's URL through the data directory too.
    let (okay, stdout, stderr) = run(&["--data-dir", dir, "call", "Time"], &[]);
    assert!(okay, "{stderr}");
    assert!(stdout.contains("unixtime"), "{stdout}");
}

#[test]
fn key_create_env_prints_shell_exports() {
    let s = Server::start();
    let out = s.cli(&["key", "create", "--account", "demo", "--name", "sh", "--permissions", "Query Funds", "--env"]);
    let line = out.trim();
    assert!(line.starts_with("export KRAKEN_API_KEY='") && line.contains(" KRAKEN_API_SECRET='"), "{line}");
    let key = line.split('\'').nth(1).unwrap();
    let secret = line.split('\'').nth(3).unwrap();
    let k = common::Key { key: key.into(), secret: secret.into() };
    assert!(ok(&s.private(&k, "Balance", &[]))["ZUSD"].is_string());
}
