//! CancelAllOrdersAfter, Kraken's dead man's switch: `timeout` seconds from now every open
//! order of the account is canceled unless the client calls again (each call resets the
//! countdown; `timeout=0` disables it). The switch is engine state (`engine::timers`): the
//! call is a logged command and the firing is a logged `Tick` at the trigger time, so a restart
//! keeps it and a replay fires it at the same instant. The cancels it makes carry no cancel
//! penalty (the limiter is outside the engine, and Kraken documents none for the switch).

use crate::api::params::Params;
use crate::api::public::rfc3339;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::timers::MAX_DEAD_MAN_S;
use crate::engine::Command;
use crate::error::KrakenError;
use serde_json::json;

const NS: u64 = 1_000_000_000;

pub async fn cancel_all_orders_after(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let timeout_s = p.required("timeout")?.trim().parse::<u64>().map_err(|_| KrakenError::invalid("timeout"))?;
    if timeout_s > MAX_DEAD_MAN_S {
        return Err(KrakenError::invalid("timeout"));
    }
    let account = c.account();
    let cmd = Command::CancelAllAfter { account, timeout_s };
    st.sequencer
        .execute(c.key_nonce(), cmd, move |ex, _| {
            // The engine's time of the call, and the trigger it set ("0": disabled).
            let trigger = ex.dead_man(account).map_or_else(|| "0".to_string(), |t| rfc3339(t / NS));
            json!({ "currentTime": rfc3339(ex.now_ns / NS), "triggerTime": trigger })
        })
        .await
}
