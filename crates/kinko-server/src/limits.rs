//! Protection from a terminal that asks too much (仕様 6.6): a rate per
//! terminal (its certificate) or, before enrolment, per address; a time
//! limit on every call but object transfers. Request sizes are limited in
//! the routes (`api.rs`), connections in the accept loop (`serve.rs`).

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::answer::ApiError;
use crate::error::Error;
use crate::peer::Peer;

/// Requests a second each terminal may make by default (bursts of twice
/// that): well above what a person's commands and the app ask for.
pub const DEFAULT_RATE: u32 = 200;

/// The keyed rates.
#[derive(Clone)]
pub struct Rates {
    terminals: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Rates {
    /// `per_second` requests a second for each terminal or address.
    pub fn new(per_second: u32) -> Rates {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Rates {
            terminals: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
        }
    }

    /// Forget the terminals that have been quiet (the limiter's memory
    /// would otherwise grow with every address that ever called).
    pub fn forget_quiet(&self) {
        self.terminals.retain_recent();
    }
}

/// The middleware: a request over its terminal's rate is answered 429.
pub async fn limit(State(rates): State<Rates>, request: Request, next: Next) -> Response {
    let key = match request.extensions().get::<Peer>() {
        Some(Peer {
            certificate: Some(fp),
            ..
        }) => fp.clone(),
        Some(peer) => peer.addr.ip().to_string(),
        None => String::new(),
    };
    if rates.terminals.check_key(&key).is_err() {
        return ApiError::from(Error::Busy(
            "too many requests from this terminal; slow down and try again".into(),
        ))
        .into_response();
    }
    next.run(request).await
}
