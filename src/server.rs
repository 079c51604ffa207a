//! Start-up and the operator's actions: open the data directory, replay the command log into a
//! fresh engine, load API keys, create the demo account on first start, write the admin token
//! and the address file the CLI uses, and serve HTTP until SIGTERM/SIGINT.

use crate::api::{self, AppState, Shared};
use crate::auth::{ApiKey, KeyRegistry, PermissionRequest, Permissions};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{self, SecretBox};
use crate::engine::markets::Markets;
use crate::engine::{Applied, Command};
use crate::error::KrakenError;
use crate::key_settings::StoredSettings;
use crate::limits::{Limits, Policy, Profile, Tier};
use crate::sequencer::Sequencer;
use crate::storage::{self, KeyRecord, KeyStore};
use crate::telemetry::{self, Telemetry};
use base64::Engine as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const ADMIN_TOKEN_FILE: &str = "admin.token";
pub const SERVER_FILE: &str = "server.json";

/// Everything a running server holds; the admin interface acts through it.
pub struct Server {
    pub state: Shared,
    pub key_store: Arc<dyn KeyStore>,
    pub sbox: Arc<SecretBox>,
    pub data_dir: PathBuf,
    pub admin_token: String,
    pub config: Config,
    /// The simulated market (running or not; `calamari market on|off` switches it).
    pub market: Arc<crate::market::Market>,
    /// The data directory's id seed (a reset starts from it again).
    pub id_seed: u64,
    /// The web console's sessions and log-in failure counts (in memory).
    pub sessions: crate::console::session::Sessions,
    /// The engine checkpoint thread (`[storage]`; `calamari log`).
    pub checkpoints: Arc<crate::recovery::checkpointer::Checkpointer>,
}

/// A freshly created API key; the secret is shown once and never stored in clear.
pub struct NewKey {
    pub public_key: String,
    pub secret_b64: String,
    pub permissions: Permissions,
    /// One line about what was granted differently from what was asked (`all` on an unverified account).
    pub note: Option<String>,
}

/// Where account tiers are kept (the metadata table, as JSON `{account id: tier}`).
pub(crate) const TIERS_META: &str = "account_tiers";

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Server {
    /// Opens (or creates) a data directory and rebuilds the exchange from its log.
    pub fn open(data_dir: &Path, config: Config) -> Result<(Server, bool), String> {
        Server::open_with(data_dir, config, None)
    }

    /// Opens with a limits profile that overrides the config file's (`serve --limits`).
    pub fn open_with(data_dir: &Path, config: Config, profile: Option<Profile>) -> Result<(Server, bool), String> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let (mut log, key_store) = storage::open_sqlite(data_dir).map_err(|e| e.to_string())?;
        let sbox = Arc::new(SecretBox::load_or_create(data_dir).map_err(|e| e.to_string())?);
        let seed = match key_store.get_meta("id_seed").map_err(|e| e.to_string())? {
            Some(s) => s.parse::<u64>().map_err(|e| e.to_string())?,
            None => {
                let s: u64 = rand::random::<u64>() >> 1;
                key_store.set_meta("id_seed", &s.to_string()).map_err(|e| e.to_string())?;
                s
            }
        };
        check_markets_compatible(key_store.as_ref(), &config)?;
        let markets = Markets::from_config(&config)?;
        // The history rows' own file (moved out of an older calamari.db, emptied if of another log
        // generation: `storage::history_db`).
        let mut history_db = storage::history_db::HistoryDb::open(data_dir, log.epoch().map_err(|e| e.to_string())?)
            .map_err(|e| format!("history.db: {e}"))?;
        let crate::recovery::Recovered { mut exchange, nonces, records: replayed, checkpoint, .. } =
            crate::recovery::checkpoint::recover_at_start(log.as_mut(), markets.clone(), seed, data_dir, &history_db)?;
        // What the replay re-emitted and the history tables do not hold yet (`storage::history`).
        let last = log.bounds().map_err(|e| e.to_string())?.map_or(0, |(_, last)| last);
        history_db.restore(&std::mem::take(&mut exchange.history_out), last).map_err(|e| e.to_string())?;
        // The replay's garbage (records decoded, history re-emitted) goes back to the kernel now, not
        // after the allocator's delay on a server that may idle (`allocator`).
        crate::allocator::release_freed_memory();
        let history = Arc::new(storage::history_read::HistoryReader::open(data_dir).map_err(|e| e.to_string())?);
        let fresh = replayed == 0 && checkpoint.is_none() && exchange.account_by_name(&config.demo.account).is_none();
        let checkpoints = crate::recovery::checkpointer::Checkpointer::start(
            data_dir.to_path_buf(),
            markets.clone(),
            seed,
            config.storage.clone(),
            checkpoint.unwrap_or(0),
        );
        let keys = Arc::new(KeyRegistry::load(key_store.as_ref(), &sbox)?);
        for k in keys.all() {
            if let Some(n) = nonces.get(&k.id) {
                k.restore_nonce(*n);
            }
        }
        let limits = Arc::new(Limits::new(Policy::from_config(&config.limits, profile)?));
        if let Some(text) = key_store.get_meta(TIERS_META).map_err(|e| e.to_string())? {
            let tiers: std::collections::BTreeMap<u32, Tier> = serde_json::from_str(&text).map_err(|e| format!("{TIERS_META}: {e}"))?;
            for (account, tier) in tiers {
                limits.set_tier(account, tier);
            }
        }
        let ids = exchange.ids.clone();
        let market = Arc::new(build_market(&config, &markets, seed)?);
        let clock = Clock::from_env();
        // The engine stamps commands from the test clock too when there is one, so that moving it
        // moves deposit confirmations and withdrawal processing on (tests only).
        let engine_clock = clock.is_adjustable().then(|| clock.clone());
        let sequencer = Sequencer::start_clocked(
            exchange,
            (log, Box::new(history_db)),
            config.server.max_batch,
            crate::sequencer::OnStorageFailure::Abort,
            engine_clock,
        );
        let mark = &sequencer.stats.history_mark;
        mark.flush_ms.store(config.storage.history_flush_ms, std::sync::atomic::Ordering::Relaxed);
        mark.flush_rows.store(config.storage.history_flush_rows, std::sync::atomic::Ordering::Relaxed);
        history.follow(mark.clone());
        let _ = checkpoints.history.set(mark.clone());
        let telemetry = Arc::new(Telemetry::new(sequencer.stats.clone(), limits.clone(), clock.clone(), config.log));
        let state = Arc::new(AppState {
            sequencer,
            markets: Arc::new(markets),
            keys: keys.clone(),
            ids,
            max_body_bytes: config.server.max_body_bytes,
            limits,
            clock,
            telemetry,
            funding: config.funding.clone(),
            exports: Arc::new(crate::exports::Exports::open(data_dir)?),
            tokens: Arc::new(crate::ws::private::token::Tokens::new(keys.clone(), sbox.clone())),
            history,
        });
        let admin_token = load_or_create_token(data_dir)?;
        let sessions = crate::console::session::Sessions::new(&config.console);
        Ok((
            Server {
                state,
                key_store,
                sbox,
                data_dir: data_dir.to_path_buf(),
                admin_token,
                config,
                sessions,
                market,
                id_seed: seed,
                checkpoints,
            },
            fresh,
        ))
    }

    pub async fn create_account(&self, name: &str) -> Result<u32, KrakenError> {
        let cmd = Command::CreateAccount { name: name.to_string() };
        match self.state.sequencer.execute(None, cmd, |_, a| a.clone()).await? {
            Applied::AccountCreated(id) => Ok(id),
            _ => Err(KrakenError::InternalError),
        }
    }

    pub async fn account_id(&self, name: &str) -> Result<u32, KrakenError> {
        let n = name.to_string();
        self.state
            .sequencer
            .read(move |ex| ex.account_by_name(&n).filter(|id| *id >= 2))
            .await?
            .ok_or_else(|| KrakenError::invalid("account"))
    }

    /// Credits an account from outside (`calamari deposit`); amount is a decimal string.
    pub async fn deposit(&self, account: &str, asset: &str, amount: &str) -> Result<String, KrakenError> {
        let account = self.account_id(account).await?;
        let asset_idx = self.state.markets.asset_by_name(asset).ok_or(KrakenError::UnknownAsset)?;
        let a = self.state.markets.asset(asset_idx);
        let units = crate::money::parse_units(amount, a.decimals).filter(|u| *u > 0).ok_or(KrakenError::FundingInvalidAmount)?;
        let cmd = Command::Deposit { account, asset: asset_idx, amount: units };
        self.state
            .sequencer
            .execute(None, cmd, |ex, applied| match applied {
                Applied::Deposited { refid, .. } => api::views::refid(ex, *refid),
                _ => String::new(),
            })
            .await
    }

    /// Sets an account's verification tier (durable before it returns).
    pub async fn set_tier(&self, account: &str, tier: Tier) -> Result<u32, String> {
        let id = self.account_id(account).await.map_err(|_| format!("no account named {account:?}"))?;
        let mut all: std::collections::BTreeMap<u32, Tier> = self.state.limits.tiers().into_iter().collect();
        all.insert(id, tier);
        let text = serde_json::to_string(&all).map_err(|e| e.to_string())?;
        self.key_store.set_meta(TIERS_META, &text).map_err(|e| e.to_string())?;
        self.state.limits.set_tier(id, tier);
        Ok(id)
    }

    /// Creates an API key for an account: stored encrypted and durable before it is returned.
    pub async fn create_key(&self, account: &str, name: &str, permissions: Permissions) -> Result<NewKey, String> {
        let exactly = PermissionRequest { named: permissions, all: false };
        self.create_key_with(account, name, exactly, StoredSettings::default()).await
    }

    /// Creates a key with the permissions asked for, as the account's tier allows them (`all`
    /// on an unverified account grants all but Withdraw Funds and says so in `NewKey::note`).
    pub async fn create_key_with(
        &self,
        account: &str,
        name: &str,
        request: PermissionRequest,
        settings: StoredSettings,
    ) -> Result<NewKey, String> {
        let account_id = self.account_id(account).await.map_err(|_| format!("no account named {account:?}"))?;
        if name.is_empty() || name.len() > 32 {
            return Err("a key name has 1 to 32 characters".into());
        }
        let (permissions, note) = self.grant(account_id, account, request)?;
        let live = settings.load(&self.sbox)?;
        let public_key = crypto::random_api_key();
        let secret = crypto::random_api_secret();
        let rec = KeyRecord {
            id: 0,
            public_key: public_key.clone(),
            account_id,
            name: name.to_string(),
            permissions: permissions.0,
            secret_ciphertext: self.sbox.encrypt(&secret),
            created_at: now_secs(),
            revoked: false,
            nonce: 0,
            settings: serde_json::to_string(&settings).map_err(|e| e.to_string())?,
        };
        let id = self.key_store.insert_key(&rec).map_err(|e| match e {
            storage::StorageError::Conflict => format!("account {account} already has a key named {name:?}"),
            other => other.to_string(),
        })?;
        let key = ApiKey::new(id, public_key.clone(), account_id, name.to_string(), permissions, secret.clone(), rec.created_at)
            .with_settings(live);
        self.state.keys.insert(Arc::new(key));
        Ok(NewKey { public_key, secret_b64: base64::engine::general_purpose::STANDARD.encode(&secret), permissions, note })
    }

    /// The permissions a request grants on this account, by its tier.
    fn grant(&self, account_id: u32, account: &str, request: PermissionRequest) -> Result<(Permissions, Option<String>), String> {
        let tier = self.state.limits.tier(account_id);
        request.grant(tier.is_verified()).map_err(|_| {
            format!(
                "Withdraw Funds needs a verified account: verify your identity first (account {account:?} is {tier}; \
                 `calamari account tier {account} intermediate`)"
            )
        })
    }

    /// Replaces a live key's permissions, as Kraken's key edit page does (durable before it
    /// returns); the key keeps its secret, settings and nonces. Returns the granted set and a note.
    pub async fn set_key_permissions(&self, public_key: &str, request: PermissionRequest) -> Result<(Permissions, Option<String>), String> {
        let old = self.state.keys.get(public_key).ok_or_else(|| format!("no live key {public_key:?}"))?;
        let account = self.account_name(old.account_id).await;
        let (permissions, note) = self.grant(old.account_id, &account, request)?;
        if !self.key_store.update_permissions(public_key, permissions.0).map_err(|e| e.to_string())? {
            return Err(format!("no live key {public_key:?}"));
        }
        let stored = self.key_store.list_keys().map_err(|e| e.to_string())?.into_iter().find(|k| k.public_key == public_key && !k.revoked);
        let settings: StoredSettings = match stored {
            Some(rec) => serde_json::from_str(&rec.settings).map_err(|e| e.to_string())?,
            None => return Err(format!("no live key {public_key:?}")),
        };
        let key = ApiKey::new(
            old.id,
            old.public_key.clone(),
            old.account_id,
            old.name.clone(),
            permissions,
            old.secret().to_vec(),
            old.created_at,
        )
        .with_settings(settings.load(&self.sbox)?);
        key.restore_nonce(old.highest_nonce());
        key.last_used.store(old.last_used.load(std::sync::atomic::Ordering::Relaxed), std::sync::atomic::Ordering::Relaxed);
        self.state.keys.insert(Arc::new(key));
        Ok((permissions, note))
    }

    /// An account's name by id ("" if there is none).
    pub async fn account_name(&self, id: u32) -> String {
        self.state
            .sequencer
            .read(move |ex| ex.accounts.get(id as usize).map(|a| a.name.clone()).unwrap_or_default())
            .await
            .unwrap_or_default()
    }

    /// Replaces a key's settings (durable before it returns); the key keeps its nonces.
    pub fn set_key_settings(&self, public_key: &str, settings: StoredSettings) -> Result<(), String> {
        let old = self.state.keys.get(public_key).ok_or_else(|| format!("no live key {public_key:?}"))?;
        let live = settings.load(&self.sbox)?;
        let text = serde_json::to_string(&settings).map_err(|e| e.to_string())?;
        if !self.key_store.update_settings(public_key, &text).map_err(|e| e.to_string())? {
            return Err(format!("no live key {public_key:?}"));
        }
        let secret = old.secret().to_vec();
        let key = ApiKey::new(old.id, old.public_key.clone(), old.account_id, old.name.clone(), old.permissions, secret, old.created_at)
            .with_settings(live);
        key.restore_nonce(old.highest_nonce());
        key.last_used.store(old.last_used.load(std::sync::atomic::Ordering::Relaxed), std::sync::atomic::Ordering::Relaxed);
        self.state.keys.insert(Arc::new(key));
        Ok(())
    }

    pub fn revoke_key(&self, public_key: &str) -> Result<bool, String> {
        let revoked = self.key_store.revoke_key(public_key).map_err(|e| e.to_string())?;
        self.state.keys.remove(public_key);
        Ok(revoked)
    }

    /// First start: the demo account, its opening balances and an all-permission key.
    pub async fn bootstrap_demo(&self) -> Result<NewKey, String> {
        let demo = self.config.demo.clone();
        self.create_account(&demo.account).await.map_err(|e| e.to_string())?;
        self.set_tier(&demo.account, demo.tier).await?;
        for (asset, amount) in &demo.balances {
            self.deposit(&demo.account, asset, amount).await.map_err(|e| format!("demo deposit {amount} {asset}: {e}"))?;
        }
        self.create_key(&demo.account, "demo", Permissions::ALL).await
    }

    /// Saves the nonces that advanced since the last call (reads are not in the command log).
    pub fn flush_nonces(&self) {
        let dirty = self.state.keys.dirty_nonces();
        if !dirty.is_empty() {
            if let Err(e) = self.key_store.save_nonces(&dirty) {
                tracing::warn!(error = %e, "could not save nonces");
            }
        }
    }
}

/// The simulator from `[market]`: its seed (the data directory's own unless configured), each
/// pair's figures with the taker rate multiplied by `rate`, and the switch.
fn build_market(config: &Config, markets: &Markets, id_seed: u64) -> Result<crate::market::Market, String> {
    let m = &config.market;
    let rate = m.rate.max(1);
    let params = m
        .pair_params(markets)?
        .into_iter()
        .map(|mut p| {
            p.trade_every_ms = (p.trade_every_ms / rate).max(1);
            p.requote_ms = (p.requote_ms / rate).max(1);
            p
        })
        .collect();
    let sim = crate::market::sim::Simulator::new(m.seed.unwrap_or(id_seed), m.step_ms, params);
    Ok(crate::market::Market::new(sim, m.enabled, m.speed))
}

/// The asset and pair lists may only grow once a data directory has state.
fn check_markets_compatible(store: &dyn KeyStore, config: &Config) -> Result<(), String> {
    let names: Vec<String> =
        config.assets.iter().map(|a| a.id.clone()).chain(config.pairs.iter().map(|p| format!("pair:{}", p.id))).collect();
    let assets: Vec<&String> = names.iter().filter(|n| !n.starts_with("pair:")).collect();
    let pairs: Vec<&String> = names.iter().filter(|n| n.starts_with("pair:")).collect();
    for (key, now) in [("assets", assets), ("pairs", pairs)] {
        let joined = now.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
        match store.get_meta(key).map_err(|e| e.to_string())? {
            Some(before) if !joined.starts_with(before.as_str()) => {
                return Err(format!(
                    "the configured {key} ({joined}) do not extend the data directory's ({before}); lists are append-only"
                ));
            }
            _ => store.set_meta(key, &joined).map_err(|e| e.to_string())?,
        }
    }
    Ok(())
}

fn load_or_create_token(dir: &Path) -> Result<String, String> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let token = crypto::random_token();
    write_private(&path, &token).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(token)
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Runs the server until a shutdown signal. Prints the demo credentials on first start.
pub async fn serve(data_dir: &Path, listen: SocketAddr, config: Config, profile: Option<Profile>) -> Result<(), String> {
    telemetry::install_panic_hook();
    let (server, fresh) = Server::open_with(data_dir, config, profile)?;
    let server = Arc::new(server);
    // Reports a stop interrupted are built again from their recorded snapshots.
    server.state.exports.resume(&server.state.sequencer, &server.state.history);
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("{listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let url = format!("http://{addr}");
    write_private(&data_dir.join(SERVER_FILE), &serde_json::json!({ "url": url, "pid": std::process::id() }).to_string())
        .map_err(|e| e.to_string())?;
    if fresh {
        let key = server.bootstrap_demo().await?;
        print_demo(&server.config.demo.account, &key, &url);
    }
    let ticker = {
        let s = server.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                s.flush_nonces();
                s.state.telemetry.request_log.flush(false);
                // A pass through the engine's queue applies funding transitions that came due
                // (confirmations, withdrawal processing) even when no request arrives.
                let _ = s.state.sequencer.read(|_| ()).await;
                n += 1;
                if n.is_multiple_of(60) {
                    s.state.limits.sweep(s.state.clock.now_us());
                }
            }
        })
    };
    let market = crate::market::spawn(server.state.clone(), server.market.clone());
    let publisher = crate::ws::publisher::Publisher::start(server.state.markets.clone(), &server.state.sequencer);
    let ws_limits = crate::ws::limits::WsLimits::new(server.config.ws.clone(), server.state.limits.policy.trusted_proxies.clone());
    let app = api::router(server.state.clone())
        .merge(crate::ws::router(publisher, server.state.clone(), ws_limits))
        .merge(crate::admin::router(server.clone()))
        .merge(crate::console::router(server.clone()))
        .merge(telemetry::routes::router(server.state.clone()));
    tracing::info!(%url, "Calamari is listening");
    println!("Calamari listening on {url} (data directory {})", data_dir.display());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Shutdown order: axum has stopped accepting and every in-flight request has its answer
    // (so every acknowledged command is already committed); now the sequencer commits whatever
    // is still queued and its storage thread exits; last, the nonces of reads are saved.
    tracing::info!("requests drained; stopping the sequencer");
    ticker.abort();
    market.abort();
    server.state.telemetry.request_log.flush(true);
    server.checkpoints.stop();
    server.state.sequencer.stop();
    server.flush_nonces();
    tracing::info!(commits = server.state.sequencer.stats.commits.load(std::sync::atomic::Ordering::Relaxed), "storage synced; shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal: draining in-flight requests");
}

fn print_demo(account: &str, key: &NewKey, url: &str) {
    println!("First start: created the demo account {account:?} and an API key with every permission.");
    println!("This is the only time the secret is shown:");
    println!("  API key:    {}", key.public_key);
    println!("  API secret: {}", key.secret_b64);
    println!("Try a signed call:");
    println!("  KRAKEN_API_KEY='{}' KRAKEN_API_SECRET='{}' calamari call Balance --url {url}", key.public_key, key.secret_b64);
    println!("Give each client library its own key (`calamari key create --account {account} --name NAME --permissions all`):");
    println!("their nonces differ in scale (krakenex ms, python-kraken-sdk 10^-8 s), and a smaller one is refused after a larger.");
    println!("Web console: {url}/console/ (give {account} a password first: `calamari account password {account}` reads it from standard input).");
}
