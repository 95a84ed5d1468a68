//! Accounts (P5): IDs, names, roles, initial passwords and password
//! changes. Each account has an HPKE key pair for receiving document keys
//! and an ECDSA key pair for signing; both private halves live only in the
//! account's keyslot.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::audit;
use crate::crypto::{self, kdf::KdfParams, HpkeKeyPair, SigningKeyPair};
use crate::error::{Error, Result};
use crate::keyslots::{KeySlots, SlotSecrets};
use crate::permission::{Role, Roles};

/// A password held in memory that is wiped on drop.
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Password(Zeroizing::new(text.into()))
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A random initial password of 16 characters with upper and lower
    /// case letters and digits, avoiding look-alike characters.
    pub fn generate() -> Self {
        const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
        const DIGIT: &[u8] = b"23456789";
        let all: Vec<u8> = [UPPER, LOWER, DIGIT].concat();
        loop {
            let bytes = crypto::random::<16>();
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - (256 % all.len());
            if bytes.iter().any(|b| (*b as usize) >= limit) {
                continue;
            }
            let s: String = bytes
                .iter()
                .map(|b| all[*b as usize % all.len()] as char)
                .collect();
            let has = |set: &[u8]| s.bytes().any(|c| set.contains(&c));
            if has(UPPER) && has(LOWER) && has(DIGIT) {
                return Password::new(s);
            }
        }
    }
}

/// Account IDs: lower-case ASCII letters, digits and `._-`, starting with
/// a letter or digit, at most 64 characters. They appear in paths, logs
/// and forms, so nothing else is accepted.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "'{id}' is not a valid account ID (use 1-64 lower-case letters, digits, '.', '_' or '-')"
        )));
    }
    // The trail's own name for events Kinko writes by itself.
    if id == crate::audit::SYSTEM {
        return Err(Error::invalid(format!("'{id}' is reserved by Kinko")));
    }
    Ok(())
}

/// A display name: 1-200 characters, no control characters.
pub fn validate_name(name: &str) -> Result<()> {
    validate_text("name", name, 200)
}

/// Free text stored in the vault: not empty, bounded, no control characters.
pub(crate) fn validate_text(field: &'static str, text: &str, max: usize) -> Result<()> {
    let words = field.replace('_', " ");
    if text.trim().is_empty() {
        return Err(Error::field(field, format!("{words} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(Error::field(
            field,
            format!("{words} is longer than {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::field(
            field,
            format!("{words} contains control characters"),
        ));
    }
    Ok(())
}

/// An account as listed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "Account"))]
pub struct AccountInfo {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub status: String,
    pub must_change_password: bool,
    pub created_at: String,
    pub certification: Certification,
    /// The fingerprint of the keys the account holds now, as the person's
    /// own screen shows it (while they await the officer).
    pub fingerprint: Option<String>,
}

/// Where an account stands with the officer (`cert.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Certification {
    /// Its keys, name and roles are as the officer certified them.
    Certified,
    /// The person has not yet set their own password (and so has no keys
    /// of their own to certify).
    AwaitingPerson,
    /// The person made their keys; the officer has not certified them, or
    /// a change of name or roles.
    AwaitingOfficer,
}

/// What `account certify` signed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Certified {
    pub account: String,
    pub serial: i64,
    pub name: String,
    pub roles: String,
    pub fingerprint: String,
}

/// The result of adding an account: its initial password, shown once.
pub struct NewAccount {
    pub id: String,
    pub initial_password: Password,
}

/// What issuing credentials made: a fresh initial password, the new public
/// keys, and the keyslots with the sealed slot staged (written by
/// `perform` together with the event).
pub(crate) struct Issued {
    pub(crate) password: Password,
    pub(crate) hpke_public: Vec<u8>,
    pub(crate) sign_public: Vec<u8>,
    pub(crate) slots: KeySlots,
}

/// New key pairs for `id` and a keyslot sealing them (with the database
/// key and the issuer's anchor) under a fresh initial password, with the
/// issuer's KDF profile.
pub(crate) fn issue_credentials(ctx: &crate::actor::Ctx, id: &str) -> Result<Issued> {
    let password = Password::generate();
    let hpke = HpkeKeyPair::generate();
    let sign = SigningKeyPair::generate();
    // The new slot trusts the vault keys (and the root) the issuer's own
    // slot trusts. Whoever issued it knows its password, so the keys made
    // here are never certified: the person makes their own at their first
    // sign-in (`actions/start.rs::change_password`).
    let anchor = ctx.secrets.anchor;
    let secrets = SlotSecrets {
        db_key: ctx.secrets.db_key,
        hpke_secret: *hpke.secret,
        sign_secret: *sign.secret,
        anchor,
    };
    // Read and staged while the caller's transaction holds the write lock,
    // so two writers cannot interleave their keyslot edits.
    let mut slots = KeySlots::load(&ctx.keyslots_path())?;
    let profile = slots
        .slot(&ctx.actor.id)
        .map(|s| s.kdf.profile())
        .unwrap_or(crypto::kdf::KdfProfile::Argon2id);
    slots.set(
        id,
        password.as_bytes(),
        KdfParams::new(profile),
        &secrets,
        None,
    )?;
    Ok(Issued {
        password,
        hpke_public: hpke.public,
        sign_public: sign.public,
        slots,
    })
}

/// What the people who run accounts can do to one (P5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Stop sign-in for now; grants stay.
    Suspend,
    /// Undo a suspension.
    Resume,
    /// The person left: sign-in ends for good, their keyslot and every
    /// grant are destroyed. The ID is never issued again.
    Disable,
    /// End a lockout before its time.
    Unlock,
}

impl Lifecycle {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Lifecycle::Suspend => "suspend",
            Lifecycle::Resume => "resume",
            Lifecycle::Disable => "disable",
            Lifecycle::Unlock => "unlock",
        }
    }
}

/// Nobody but the officer may suspend, disable or reset the officer's
/// account: otherwise the system administrator could remove the officer,
/// add a new one and take over every approval (separation of duties).
pub(crate) fn check_may_manage(
    tx: &rusqlite::Transaction,
    ctx: &crate::actor::Ctx,
    id: &str,
) -> Result<()> {
    let roles: String = tx.query_row("SELECT roles FROM accounts WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    if Roles::parse(&roles)?.has(Role::Officer) && !ctx.actor.roles.has(Role::Officer) {
        return Err(Error::denied(format!(
            "only the officer may change the officer's account {id}"
        )));
    }
    Ok(())
}

/// The roles the trail recorded when the account was added (`None` if
/// that event was archived).
pub(crate) fn added_with_roles(conn: &rusqlite::Connection, id: &str) -> Result<Option<String>> {
    let detail: Option<String> = conn
        .query_row(
            "SELECT detail FROM audit_events WHERE event = 'account.add' AND object = ?1 AND outcome = 'ok' ORDER BY seq DESC LIMIT 1",
            [format!("account:{id}")],
            |r| r.get(0),
        )
        .optional()?;
    Ok(detail.and_then(|d| d.strip_prefix("roles=").map(str::to_string)))
}

pub(crate) fn account_status(tx: &rusqlite::Transaction, id: &str) -> Result<String> {
    tx.query_row("SELECT status FROM accounts WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("account {id}")))
}

/// End every open session of an account but `except` (the one acting,
/// if it stays) and destroy their stored key material; returns how many
/// ended. Each ends at its next action, which says why.
pub(crate) fn end_sessions(
    tx: &rusqlite::Transaction,
    dir: &std::path::Path,
    id: &str,
    reason: &str,
    except: Option<&str>,
) -> Result<usize> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM sessions WHERE account = ?1 AND ended_at IS NULL")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?
        .into_iter()
        .filter(|s| Some(s.as_str()) != except)
        .collect();
    let ended = ids.len();
    for s in ids {
        tx.execute(
            "UPDATE sessions SET ended_at = ?2, ended_reason = ?3 WHERE id = ?1",
            params![s, audit::now(), reason],
        )?;
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            // A link planted there is left alone (and is no session).
            let _ =
                crate::fsutil::remove_overwritten(&dir.join(crate::layout::SESSIONS_DIR).join(&s));
        }
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain() {
        for ok in ["tanaka", "t.suzuki", "user-01", "a"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Tanaka",
            "../x",
            "a b",
            "-a",
            "x;drop",
            &"a".repeat(65),
            "田中",
        ] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_passwords_meet_the_rules() {
        for _ in 0..50 {
            let p = Password::generate();
            assert_eq!(p.as_str().len(), 16);
        }
    }
}
