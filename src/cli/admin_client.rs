//! The CLI's client of a running server's admin interface (`/admin/*`): finds the server through
//! the data directory's `server.json` and `admin.token`, sends the token, and turns refusals into
//! one clear line.

use crate::server::{ADMIN_TOKEN_FILE, SERVER_FILE};
use serde_json::Value;
use std::path::Path;

/// A client of a running server's admin interface.
pub struct Admin {
    url: String,
    token: String,
}

impl Admin {
    pub fn find(dir: &Path) -> Result<Admin, String> {
        let missing = || format!("no running server found for data directory {}; start it with `calamari serve`", dir.display());
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
