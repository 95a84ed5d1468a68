//! Protection from a terminal that asks too much (仕様 6.6): a rate per
//! terminal (its certificate) or, before enrolment, per address; a cap
//! on the connections each holds; a time limit on every call but object
//! transfers, which must instead keep moving (no pause longer than the
//! idle limit). Request sizes are limited in the routes (`api.rs`), the
//! connections in the accept loop (`serve.rs`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Connections one terminal (or, before enrolment, one address) may hold
/// at once by default: a terminal uses a few; more than this is a
/// terminal holding the office's slots (512 in all).
pub const DEFAULT_CONNECTIONS_PER_TERMINAL: usize = 16;

/// How long a transfer may stand still by default: an upload that sends
/// nothing, or a terminal that reads nothing of its answer, for this long
/// is cut off and its slot freed.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// Who a request or connection counts against: the terminal's
/// certificate, or the address of one not yet enrolled.
pub fn peer_key(peer: &Peer) -> String {
    match &peer.certificate {
        Some(fp) => fp.clone(),
        None => peer.addr.ip().to_string(),
    }
}

/// The connections each terminal holds, capped.
#[derive(Clone)]
pub struct Connections {
    per_terminal: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One admitted connection; dropping it frees the terminal's slot.
pub struct ConnectionSlot {
    key: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Connections {
    pub fn new(per_terminal: usize) -> Connections {
        Connections {
            per_terminal: per_terminal.max(1),
            open: Arc::default(),
        }
    }

    /// A slot for one more connection of `key`, or `None` when it holds
    /// its share already.
    pub fn admit(&self, key: String) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let held = open.entry(key.clone()).or_insert(0);
        if *held >= self.per_terminal {
            return None;
        }
        *held += 1;
        Some(ConnectionSlot {
            key,
            open: self.open.clone(),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = open.get_mut(&self.key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What the accept loop holds every connection to.
#[derive(Clone)]
pub struct ConnectionLimits {
    pub connections: Connections,
    /// The longest a connection may wait to write its answer.
    pub idle: Duration,
}

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
    let key = request
        .extensions()
        .get::<Peer>()
        .map(peer_key)
        .unwrap_or_default();
    if rates.terminals.check_key(&key).is_err() {
        return ApiError::from(Error::Busy(
            "too many requests from this terminal; slow down and try again".into(),
        ))
        .into_response();
    }
    next.run(request).await
}
