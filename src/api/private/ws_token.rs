//! GetWebSocketsToken: the token a private WebSocket v2 request carries (`params.token`), issued
//! by the store in `ws::private::token` on the request path's clock.

use crate::api::{ApiResult, Caller, Shared};
use serde_json::json;

pub async fn get_websockets_token(st: &Shared, c: &Caller) -> ApiResult {
    let (token, expires) = st.tokens.issue(&c.key, st.clock.now_us().saturating_mul(1000));
    Ok(json!({ "token": token, "expires": expires }))
}
