//! Brute-force lockout (P6, 仕様 6.3.1): failed sign-ins in a row are
//! counted per account, and past the threshold the account is locked for a
//! time that doubles with every further failure (capped at a day). A lock
//! ends by time or when the system administrator unlocks the account.
//!
//! The counts live in `signin-state` beside the keyslots, not in the
//! database: a wrong password cannot open the database. The file holds no
//! secret (slot names, counts, times, and a copy of the lockout policy).
//!
//! A guess is counted before the password's KDF runs, under a lock on
//! `signin-state.lock` held from the check to the count ([`Held`]), so
//! however many processes guess at once, no more than the threshold are
//! ever checked. A sign-in that succeeds (or that failed for a reason
//! other than the password or the one-time code) takes its count back.
//!
//! Each terminal keeps its own copy outside the vault (the state
//! directory, beside its memory of the trail), and the stricter of the two
//! counts: deleting `signin-state`, or writing it back with lower counts,
//! gives no new guesses on a terminal that counted them. The policy copied
//! into it is written again from the officer's signed policy at every
//! sign-in.
//! The system administrator's unlock is recorded in `signin-state` and
//! lifts the copy's count too. Someone who can write the vault's files
//! can attack the keyslots offline anyway, which the password KDF is there
//! to slow down (`docs/key-management.md`).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

pub const FILE: &str = crate::layout::SIGNIN_STATE_FILE;
const LOCK_FILE: &str = crate::layout::SIGNIN_LOCK_FILE;
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

impl LockoutPolicy {
    /// The stricter of two policies, setting by setting.
    fn stricter(self, other: LockoutPolicy) -> LockoutPolicy {
        LockoutPolicy {
            threshold: self.threshold.min(other.threshold),
            base_seconds: self.base_seconds.max(other.base_seconds),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
    /// When the last guess was counted.
    #[serde(default)]
    pub last: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SigninState {
    #[serde(default)]
    pub policy: LockoutPolicy,
    #[serde(default)]
    pub accounts: BTreeMap<String, Entry>,
    /// When the system administrator last unlocked each slot: a terminal's
    /// copy drops what it counted before.
    #[serde(default)]
    pub unlocked: BTreeMap<String, DateTime<Utc>>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// This terminal's copy of one vault's counts.
fn copy_path(state_dir: &Path, vault_id: &str) -> PathBuf {
    state_dir.join("lockout").join(format!("{vault_id}.json"))
}

fn read_state(path: &Path) -> Result<SigninState> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|_| Error::tampered(format!("{} is damaged", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SigninState::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

impl SigninState {
    /// Read the state; a missing file is an empty state, a garbled one is
    /// tampering.
    pub fn load(dir: &Path) -> Result<Self> {
        read_state(&path(dir))
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        fsutil::write_atomic(
            &path(dir),
            &serde_json::to_vec_pretty(self).expect("serialises"),
        )
    }

    /// Hold the vault's sign-in state alone (a lock on its lock file) with
    /// this terminal's copy merged in, until [`Held::save`] or drop.
    pub(crate) fn hold(dir: &Path, copy: Option<(&Path, &str)>) -> Result<Held> {
        let lock_path = dir.join(LOCK_FILE);
        let lock = fsutil::open_lock_file(&lock_path)?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        let mut state = SigninState::load(dir)?;
        let copy = copy.map(|(state_dir, vault_id)| copy_path(state_dir, vault_id));
        if let Some(p) = &copy {
            state.merge(read_state(p)?);
        }
        Ok(Held {
            _lock: lock,
            dir: dir.to_path_buf(),
            copy,
            state,
        })
    }

    /// Take in a terminal's copy: the higher count and later lock of each
    /// slot, unless unlocked or signed into since, and the stricter
    /// policy (both are written again from the officer's signed policy at
    /// the next sign-in, so a policy the officer loosened takes effect).
    fn merge(&mut self, copy: SigninState) {
        self.policy = self.policy.stricter(copy.policy);
        for (slot, theirs) in copy.accounts {
            let unlocked = self.unlocked.get(&slot).copied();
            if unlocked.is_some_and(|u| theirs.last.is_none_or(|t| u >= t)) {
                continue;
            }
            let mine = self.accounts.entry(slot).or_default();
            if theirs.failures > mine.failures {
                mine.failures = theirs.failures;
                mine.last = mine.last.max(theirs.last);
            }
            mine.locked_until = mine.locked_until.max(theirs.locked_until);
        }
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
        e.last = Some(now);
        if e.failures >= policy.threshold {
            let excess = (e.failures - policy.threshold).min(20);
            let secs = (i64::from(policy.base_seconds) << excess).min(MAX_LOCK_SECONDS);
            e.locked_until = Some(now + chrono::Duration::seconds(secs));
        }
        e.locked_until
    }

    /// Take back the count of a guess that turned out not to be one (the
    /// password was right, something else refused).
    fn forgive(&mut self, slot: &str) {
        let threshold = self.policy.threshold;
        if let Some(e) = self.accounts.get_mut(slot) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures < threshold {
                e.locked_until = None;
            }
            if e.failures == 0 {
                self.accounts.remove(slot);
            }
        }
    }

    /// A successful sign-in (or an unlock) clears the count.
    pub fn clear(&mut self, slot: &str) -> bool {
        self.accounts.remove(slot).is_some()
    }

    /// The system administrator's unlock: the count goes, here and in
    /// every terminal's copy of what it counted before now.
    pub fn unlock(&mut self, slot: &str, now: DateTime<Utc>) -> bool {
        let was = self.clear(slot);
        self.unlocked.insert(slot.to_string(), now);
        was
    }
}

/// The sign-in state held alone, with this terminal's copy merged in.
pub(crate) struct Held {
    _lock: File,
    dir: PathBuf,
    copy: Option<PathBuf>,
    pub(crate) state: SigninState,
}

impl Held {
    /// Write the state back, and this terminal's copy, then let go.
    pub(crate) fn save(self) -> Result<()> {
        self.state.save(&self.dir)?;
        if let Some(p) = &self.copy {
            if let Some(parent) = p.parent() {
                fsutil::ensure_private_dir(parent)?;
            }
            fsutil::write_atomic(
                p,
                &serde_json::to_vec_pretty(&self.state).expect("serialises"),
            )?;
        }
        Ok(())
    }
}

/// The officer's signed lockout policy, beside the keyslots (a terminal's
/// copy takes it at that terminal's next sign-in, [`Settled::SignedIn`]).
pub(crate) fn set_policy(dir: &Path, policy: LockoutPolicy) -> Result<()> {
    let mut held = SigninState::hold(dir, None)?;
    held.state.policy = policy;
    held.save()
}

/// Count one guess at `slot` before its password is checked: refused if
/// the slot is locked now. Returns when the slot will be locked if this
/// guess is wrong.
pub(crate) fn count_guess(
    dir: &Path,
    copy: Option<(&Path, &str)>,
    slot: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let mut held = SigninState::hold(dir, copy)?;
    if let Err(e) = held.state.check_not_locked(slot, now) {
        // What this terminal counted goes back beside the keyslots, so
        // the system administrator's unlock finds it.
        held.save()?;
        return Err(e);
    }
    let locked = held.state.record_failure(slot, now);
    held.save()?;
    Ok(locked)
}

/// How a counted guess ended, when it was not a wrong password or code.
pub(crate) enum Settled {
    /// Signed in: the count goes, and the policy copied beside the
    /// keyslots (and in this terminal's copy) is the officer's signed one
    /// again, whatever was written there since.
    SignedIn(LockoutPolicy),
    /// The password was right but something else refused: this guess's
    /// count is taken back.
    Refused,
}

/// Settle the guess at `slot` counted by [`count_guess`].
pub(crate) fn settle_guess(
    dir: &Path,
    copy: Option<(&Path, &str)>,
    slot: &str,
    how: Settled,
) -> Result<()> {
    let mut held = SigninState::hold(dir, copy)?;
    match how {
        Settled::SignedIn(policy) => {
            // Like an unlock: what any terminal counted before now goes.
            held.state.unlock(slot, Utc::now());
            held.state.policy = policy;
        }
        Settled::Refused => held.state.forgive(slot),
    }
    held.save()
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

    #[test]
    fn a_terminals_copy_counts_unless_unlocked_since() {
        let t = Utc::now();
        let mut copy = SigninState::default();
        for _ in 0..5 {
            copy.record_failure("a", t);
        }
        // The vault's file was deleted: the copy's count and lock stand.
        let mut vault = SigninState::default();
        vault.merge(copy.clone());
        assert!(matches!(
            vault.check_not_locked("a", t),
            Err(Error::Locked(_))
        ));
        // Unlocked by the system administrator after those guesses.
        let mut vault = SigninState::default();
        vault.unlock("a", t + chrono::Duration::seconds(1));
        vault.merge(copy);
        assert!(vault.check_not_locked("a", t).is_ok());
        assert!(!vault.accounts.contains_key("a"));
    }

    #[test]
    fn a_guess_taken_back_lifts_the_lock_it_set() {
        let t = Utc::now();
        let mut s = SigninState::default();
        for _ in 0..4 {
            s.record_failure("a", t);
        }
        assert!(s.record_failure("a", t).is_some());
        s.forgive("a");
        assert!(s.check_not_locked("a", t).is_ok());
        assert_eq!(s.accounts["a"].failures, 4);
    }
}
