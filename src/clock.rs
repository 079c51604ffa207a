//! The time the request path sees. Production reads the system clock; tests can start a server
//! whose clock only moves when told to (`CALAMARI_TEST_CLOCK`, see [`Clock::from_env`]), so
//! lockouts and key expiry are tested end to end without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: an offset in microseconds added to it, which the
    /// operator's test interface can move forward.
    skew_us: Option<Arc<AtomicU64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { skew_us: None }
    }

    /// A clock that can be moved forward by [`Clock::advance`].
    pub fn adjustable() -> Clock {
        Clock { skew_us: Some(Arc::new(AtomicU64::new(0))) }
    }

    /// Adjustable when `CALAMARI_TEST_CLOCK=1` is set (tests only; the admin interface then
    /// offers `/admin/clock/advance`).
    pub fn from_env() -> Clock {
        if std::env::var("CALAMARI_TEST_CLOCK").is_ok_and(|v| v == "1") {
            Clock::adjustable()
        } else {
            Clock::system()
        }
    }

    pub fn is_adjustable(&self) -> bool {
        self.skew_us.is_some()
    }

    /// Moves the clock forward; `false` on the system clock.
    pub fn advance(&self, us: u64) -> bool {
        match &self.skew_us {
            Some(s) => {
                s.fetch_add(us, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    pub fn now_us(&self) -> u64 {
        let sys = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
        sys + self.skew_us.as_ref().map_or(0, |s| s.load(Ordering::SeqCst))
    }
}
