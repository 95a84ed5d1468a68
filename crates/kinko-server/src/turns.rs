//! Whose turn it is to write. One terminal at a time holds the vault's
//! write lease, from the moment it asks (and is brought to the head) to
//! the moment its unit is appended or it gives the turn back; others
//! wait in order (a fair queue). A lease not used within [`LEASE`] lapses,
//! so a terminal that died holding it stops no one for long. The lease
//! is for order and fairness only: an append still succeeds only at the
//! head the unit was made on (`log::append`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Mutex as Gate, OwnedMutexGuard};

use crate::error::{Error, Result};

/// How long a turn lasts if not used.
pub const LEASE: Duration = Duration::from_secs(30);
/// How long a terminal waits for its turn before it is told to try again.
pub const WAIT: Duration = Duration::from_secs(30);

struct Lease {
    id: String,
    terminal: String,
    _guard: OwnedMutexGuard<()>,
}

/// The vault's turns.
#[derive(Clone, Default)]
pub struct Turns {
    gate: Arc<Gate<()>>,
    current: Arc<Mutex<Option<Lease>>>,
}

fn new_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Authority(format!("no randomness: {e}")))?;
    Ok(data_encoding::HEXLOWER.encode(&b))
}

impl Turns {
    /// Wait for the turn of `terminal`; its lease ID.
    pub async fn take(&self, terminal: &str) -> Result<String> {
        let guard = tokio::time::timeout(WAIT, self.gate.clone().lock_owned())
            .await
            .map_err(|_| Error::Busy("other terminals are writing; try again".into()))?;
        let id = new_id()?;
        *self.lock() = Some(Lease {
            id: id.clone(),
            terminal: terminal.to_string(),
            _guard: guard,
        });
        let turns = self.clone();
        let lapsing = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LEASE).await;
            turns.give_back(&lapsing);
        });
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Lease>> {
        // A panic elsewhere while holding it leaves a value that is still
        // whole (an Option swapped in one step).
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Is `lease` the current turn, and `terminal`'s?
    pub fn check(&self, lease: &str, terminal: &str) -> Result<()> {
        match &*self.lock() {
            Some(l) if l.id == lease && l.terminal == terminal => Ok(()),
            _ => Err(Error::Conflict(
                "this terminal's turn lapsed or was never given: take a turn again".into(),
            )),
        }
    }

    /// End the turn `lease` (used, given back or lapsed); the next
    /// terminal in the queue gets its turn.
    pub fn give_back(&self, lease: &str) {
        let mut current = self.lock();
        if current.as_ref().is_some_and(|l| l.id == lease) {
            *current = None;
        }
    }
}
