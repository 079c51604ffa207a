//! `calamari log status|checkpoint|prune`: the command log and its engine checkpoints, through the
//! running server's admin routes (src/admin/log.rs). Pruning is the only way records leave the
//! log, and only before a checkpoint that passes every check.

use super::admin_client::Admin;
use super::admin_client::Target;
use clap::Subcommand;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum LogCmd {
    /// The log's first and last records, how far history.db's rows go, the engine checkpoints on disk.
    Status,
    /// Write an engine checkpoint now (from the durable log; the engine does not pause).
    Checkpoint,
    /// Remove the records before the oldest kept engine checkpoint (copied to archive/ first).
    Prune {
        /// Required: says what is pruned (the records a checkpoint already covers).
        #[arg(long, required = true)]
        before_checkpoint: bool,
        /// Drop the records instead of archiving them.
        #[arg(long)]
        no_archive: bool,
    },
}

pub fn run(target: &Target, json: bool, cmd: LogCmd) -> Result<i32, String> {
    let admin = Admin::find(target)?;
    let v = match cmd {
        LogCmd::Status => admin.get("/admin/log")?,
        LogCmd::Checkpoint => admin.post("/admin/log/checkpoint", json!({}))?,
        LogCmd::Prune { no_archive, .. } => admin.post("/admin/log/prune", json!({ "archive": !no_archive }))?,
    };
    if json {
        println!("{v}");
        return Ok(0);
    }
    if let Some(w) = v.get("written") {
        match w.get("seq") {
            Some(seq) => println!("engine checkpoint at record {seq}: {} bytes, {}", w["bytes"], w["path"].as_str().unwrap_or("")),
            None => println!("{}", v["note"].as_str().unwrap_or("nothing to write")),
        }
    } else if let Some(removed) = v.get("removed") {
        println!("{removed} records removed before record {}; archive: {}", v["before_checkpoint"], v["archive"]);
    } else {
        println!("log generation {}: records {} .. {}", v["epoch"], v["first"], v["last"]);
        let h = &v["history"];
        println!(
            "history rows written up to record {} ({} acknowledged batches behind); history thread busy {:.1} s, idle {:.1} s",
            h["upto"],
            h["lag_batches"],
            h["busy_seconds"].as_f64().unwrap_or(0.0),
            h["idle_seconds"].as_f64().unwrap_or(0.0)
        );
        for c in v["checkpoints"].as_array().into_iter().flatten() {
            println!("checkpoint at record {} ({} bytes) {}", c["seq"], c["bytes"], c["path"].as_str().unwrap_or(""));
        }
    }
    Ok(0)
}
