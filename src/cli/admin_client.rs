//! The CLI's client of a running server's admin interface (`/admin/*`): finds the server through
//! the data directory's `server.json` and `admin.token`, sends the token, and turns refusals into
//! one clear line.

use crate::server::{ADMIN_TOKEN_FILE, SERVER_FILE};
use serde_json::Value;
use std::path::PathBuf;

/// Where the CLI finds the running server (global flags of every command).
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Where the server keeps its state (and where the CLI finds a running server).
    #[arg(long, global = true, env = "CALAMARI_DATA_DIR", default_value = "./calamari-data")]
    pub data_dir: PathBuf,
    /// Talk to the server at this URL (its admin interface answers loopback clients only)…
    #[arg(long, global = true, env = "CALAMARI_SERVER")]
    pub server: Option<String>,
    /// … with the admin token in this file (default: the data directory's admin.token).
    #[arg(long, global = true, env = "CALAMARI_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// The URL the server of a data directory recorded at start, or Kraken's local default.
pub fn recorded_url(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join(SERVER_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["url"].as_str().map(str::to_string))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string())
}

/// A client of a running server's admin interface.
pub struct Admin {
    url: String,
    token: String,
}

impl Admin {
    /// The server to talk to: `--server URL` with its admin token file (by default the data
    /// directory's), or the server recorded in the data directory.
    pub fn find(t: &Target) -> Result<Admin, String> {
        let dir = &t.data_dir;
        if let Some(url) = &t.server {
            let file = t.admin_token_file.clone().unwrap_or_else(|| dir.join(ADMIN_TOKEN_FILE));
            let token = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read the admin token file {} ({e}); pass --admin-token-file FILE", file.display()))?;
            return Ok(Admin { url: url.trim_end_matches('/').to_string(), token: token.trim().to_string() });
        }
        let missing = || {
            format!(
                "no running server found for data directory {}; start it with `calamari serve`, or point at it with \
                 --data-dir DIR (CALAMARI_DATA_DIR) or --server URL --admin-token-file FILE",
                dir.display()
            )
        };
        let text = std::fs::read_to_string(dir.join(SERVER_FILE)).map_err(|_| missing())?;
        let v: Value = serde_json::from_str(&text).map_err(|_| missing())?;
        let url = v["url"].as_str().ok_or_else(missing)?.to_string();
        let token = std::fs::read_to_string(dir.join(ADMIN_TOKEN_FILE)).map_err(|_| missing())?.trim().to_string();
        Ok(Admin { url, token })
    }

    fn answer(&self, r: Result<ureq::Response, ureq::Error>) -> Result<Value, String> {
        match r {
            Ok(resp) => resp.into_json().map_err(|e| e.to_string()),
            Err(ureq::Error::Status(_, resp)) => {
                let v: Value = resp.into_json().unwrap_or(Value::Null);
                Err(v["error"].as_str().unwrap_or("the server refused the request").to_string())
            }
            Err(_) => Err(format!("no running server answers at {} (is `calamari serve` running?)", self.url)),
        }
    }

    pub fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let r = ureq::post(&format!("{}{path}", self.url)).set("Authorization", &format!("Bearer {}", self.token)).send_json(body);
        self.answer(r)
    }

    pub fn get(&self, path: &str) -> Result<Value, String> {
        let r = ureq::get(&format!("{}{path}", self.url)).set("Authorization", &format!("Bearer {}", self.token)).call();
        self.answer(r)
    }
}
