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
use crate::permission::{Action, Role, Roles};
use crate::session::{self, Done, Session};

/// A password held in memory that is wiped on drop.
pub struct Password(Zeroizing<String>);

/// Minimum password length until the policy issue makes it configurable.
pub const MIN_PASSWORD_LEN: usize = 12;

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

    /// The rules a new password must meet.
    pub fn check_rules(&self) -> Result<()> {
        if self.0.chars().count() < MIN_PASSWORD_LEN {
            return Err(Error::invalid(format!(
                "the password must be at least {MIN_PASSWORD_LEN} characters long"
            )));
        }
        Ok(())
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
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{id}' is not a valid account ID (use 1-64 lower-case letters, digits, '.', '_' or '-')"
        )))
    }
}

/// A display name: 1-200 characters, no control characters.
pub fn validate_name(name: &str) -> Result<()> {
    validate_text("name", name, 200)
}

/// Free text stored in the vault: not empty, bounded, no control characters.
pub(crate) fn validate_text(field: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(Error::invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{field} contains control characters"
        )));
    }
    Ok(())
}

/// An account as listed.
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub status: String,
    pub must_change_password: bool,
    pub created_at: String,
}

/// The result of adding an account: its initial password, shown once.
pub struct NewAccount {
    pub id: String,
    pub initial_password: Password,
}

impl Session {
    /// Add an account with a random initial password (P5). The ID must
    /// never have been issued before, to anyone.
    pub fn add_account(&mut self, id: &str, name: &str, roles: &str) -> Result<NewAccount> {
        let object = format!("account:{id}");
        self.perform(Action::AccountAdd, &object, |tx, ctx| {
            validate_id(id)?;
            validate_name(name)?;
            let roles = Roles::parse(roles)?;
            let taken: Option<String> = tx
                .query_row("SELECT status FROM accounts WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            if let Some(status) = taken {
                return Err(Error::invalid(format!(
                    "the ID {id} was already issued (now {status}) and is never issued again"
                )));
            }
            if roles.has(Role::Officer) {
                let officers: i64 = tx.query_row(
                    "SELECT count(*) FROM accounts WHERE status != 'disabled' AND (',' || roles || ',') LIKE '%,officer,%'",
                    [],
                    |r| r.get(0),
                )?;
                if officers > 0 {
                    return Err(Error::invalid("the vault already has its one Information Management Officer"));
                }
            }
            let password = Password::generate();
            let hpke = HpkeKeyPair::generate();
            let sign = SigningKeyPair::generate();
            let now = audit::now();
            tx.execute(
                "INSERT INTO accounts (id, name, roles, hpke_public, sign_public, must_change_password, password_changed_at, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)",
                params![id, name, roles.to_text(), hpke.public, sign.public, now, ctx.actor.id],
            )?;
            let anchor = session::anchor(&session::AnchorFacts {
                vault_id: &ctx.vault_id,
                custodian_public: &session::meta(tx, "custodian_public")?,
                inbox_public: &session::meta(tx, "inbox_public")?,
                account: id,
                roles: &roles.to_text(),
                hpke_public: &hpke.public,
                sign_public: &sign.public,
            });
            let secrets = SlotSecrets {
                db_key: ctx.secrets.db_key,
                hpke_secret: *hpke.secret,
                sign_secret: *sign.secret,
                anchor,
            };
            // The slot is read and staged while this transaction holds the
            // write lock, so two writers cannot interleave their edits.
            let mut slots = KeySlots::load(&ctx.keyslots_path())?;
            let profile = slots
                .slot(&ctx.actor.id)
                .map(|s| s.kdf.profile())
                .unwrap_or(crypto::kdf::KdfProfile::Argon2id);
            slots.set(id, password.as_bytes(), KdfParams::new(profile), &secrets)?;
            let mut done = Done::ok(
                NewAccount {
                    id: id.to_string(),
                    initial_password: password,
                },
                format!("roles={}", roles.to_text()),
            );
            done.keyslots = Some(slots);
            Ok(done)
        })
    }

    /// Every account, for the people who run accounts.
    pub fn list_accounts(&mut self) -> Result<Vec<AccountInfo>> {
        self.perform(Action::AccountList, "accounts", |tx, _| {
            let mut stmt = tx.prepare(
                "SELECT id, name, roles, status, must_change_password, created_at FROM accounts ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(AccountInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        roles: r.get(2)?,
                        status: r.get(3)?,
                        must_change_password: r.get::<_, i64>(4)? != 0,
                        created_at: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Done::ok(rows, ""))
        })
    }

    /// Change one's own password: the keyslot is sealed again under the
    /// new password; the keys inside do not change.
    pub fn change_password(&mut self, new: &Password) -> Result<()> {
        let object = format!("account:{}", self.ctx.actor.id);
        self.perform(Action::ChangeOwnPassword, &object, |tx, ctx| {
            new.check_rules()?;
            let mut slots = KeySlots::load(&ctx.keyslots_path())?;
            let profile = slots
                .slot(&ctx.actor.id)
                .map(|s| s.kdf.profile())
                .ok_or_else(|| Error::tampered("your keyslot is missing"))?;
            slots.set(&ctx.actor.id, new.as_bytes(), KdfParams::new(profile), &ctx.secrets)?;
            tx.execute(
                "UPDATE accounts SET must_change_password = 0, password_changed_at = ?2 WHERE id = ?1",
                params![ctx.actor.id, audit::now()],
            )?;
            let mut done = Done::ok((), "");
            done.keyslots = Some(slots);
            Ok(done)
        })
    }
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
            assert!(p.check_rules().is_ok());
            assert_eq!(p.as_str().len(), 16);
        }
    }
}
