//! Brute-force lockout (P6, 仕様 6.3.1): failed sign-ins in a row are
//! counted per account, and past the threshold the account is locked for a
//! time that doubles with every further failure (capped at a day). A lock
//! ends by time or when the system administrator unlocks the account.
//!
//! The counts live in `signin-state` beside the keyslots, not in the
//! database: a wrong password cannot open the database. The file holds no
//! secret (slot names, counts, times, and a copy of the lockout policy);
//! someone able to rewrite it could equally attack the keyslots offline,
//! which the password KDF is there to slow down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

pub const FILE: &str = "signin-state";
const MAX_LOCK_SECONDS: i64 = 86_400;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub base_seconds: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            threshold: 5,
            base_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SigninState {
    #[serde(default)]
    pub policy: LockoutPolicy,
    #[serde(default)]
    pub accounts: BTreeMap<String, Entry>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

impl SigninState {
    /// Read the state; a missing file is an empty state, a garbled one is
    /// tampering.
    pub fn load(dir: &Path) -> Result<Self> {
        match std::fs::read(path(dir)) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|_| Error::tampered("the sign-in state file is damaged")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SigninState::default()),
            Err(e) => Err(Error::io(path(dir), e)),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        fsutil::write_atomic(
            &path(dir),
            &serde_json::to_vec_pretty(self).expect("serialises"),
        )
    }

    /// Refuse before any password work if the account is locked now.
    pub fn check_not_locked(&self, slot: &str, now: DateTime<Utc>) -> Result<()> {
        match self.accounts.get(slot).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(Error::Locked(
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )),
            _ => Ok(()),
        }
    }

    /// Count a failure; past the threshold, lock for base × 2^(excess).
    pub fn record_failure(&mut self, slot: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let policy = self.policy;
        let e = self.accounts.entry(slot.to_string()).or_default();
        e.failures = e.failures.saturating_add(1);
        if e.failures >= policy.threshold {
            let excess = (e.failures - policy.threshold).min(20);
            let secs = (i64::from(policy.base_seconds) << excess).min(MAX_LOCK_SECONDS);
            e.locked_until = Some(now + chrono::Duration::seconds(secs));
        }
        e.locked_until
    }

    /// A successful sign-in (or an unlock) clears the count.
    pub fn clear(&mut self, slot: &str) -> bool {
        self.accounts.remove(slot).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_threshold_with_growing_delay() {
        let mut s = SigninState::default();
        let t = Utc::now();
        for _ in 0..4 {
            assert_eq!(s.record_failure("a", t), None);
            assert!(s.check_not_locked("a", t).is_ok());
        }
        let first = s.record_failure("a", t).unwrap();
        assert_eq!((first - t).num_seconds(), 60);
        assert!(matches!(s.check_not_locked("a", t), Err(Error::Locked(_))));
        assert!(s.check_not_locked("a", first).is_ok(), "ends by time");
        let second = s.record_failure("a", first).unwrap();
        assert_eq!((second - first).num_seconds(), 120);
        for _ in 0..40 {
            s.record_failure("a", t);
        }
        assert_eq!(
            (s.accounts["a"].locked_until.unwrap() - t).num_seconds(),
            MAX_LOCK_SECONDS
        );
        assert!(s.clear("a"));
        assert!(s.check_not_locked("a", t).is_ok());
        assert!(s.check_not_locked("b", t).is_ok());
    }
}
