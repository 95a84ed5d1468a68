//! Accounts (P5): IDs, names, roles, initial passwords and password
//! changes. Each account has an HPKE key pair for receiving document keys
//! and an ECDSA key pair for signing; both private halves live only in the
//! account's keyslot.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::audit;
use crate::credentials::{check_and_record_history, check_password_rules, record_history};
use crate::crypto::{self, kdf::KdfParams, HpkeKeyPair, SigningKeyPair};
use crate::error::{Error, Result};
use crate::keyslots::{KeySlots, SlotSecrets};
use crate::permission::{Action, Role, Roles};
use crate::policy::{Hours, Policy};
use crate::session::{self, Done, Session};

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

/// What issuing credentials made: a fresh initial password, the new public
/// keys, and the keyslots with the sealed slot staged (written by
/// `perform` together with the event).
struct Issued {
    password: Password,
    hpke_public: Vec<u8>,
    sign_public: Vec<u8>,
    slots: KeySlots,
}

/// New key pairs for `id` and a keyslot sealing them (with the database
/// key and the anchor of the account's record) under a fresh initial
/// password, with the issuer's KDF profile.
fn issue_credentials(
    tx: &rusqlite::Transaction,
    ctx: &session::Ctx,
    id: &str,
    roles: &str,
) -> Result<Issued> {
    let password = Password::generate();
    let hpke = HpkeKeyPair::generate();
    let sign = SigningKeyPair::generate();
    let anchor = session::anchor(&session::AnchorFacts {
        vault_id: &ctx.vault_id,
        custodian_public: &session::meta(tx, "custodian_public")?,
        inbox_public: &session::meta(tx, "inbox_public")?,
        audit_public: &session::meta(tx, "audit_public")?,
        account: id,
        roles,
        hpke_public: &hpke.public,
        sign_public: &sign.public,
    });
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
    slots.set(id, password.as_bytes(), KdfParams::new(profile), &secrets)?;
    Ok(Issued {
        password,
        hpke_public: hpke.public,
        sign_public: sign.public,
        slots,
    })
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
            if roles.has(Role::Officer) && !ctx.actor.roles.has(Role::Officer) {
                return Err(Error::denied("only the Information Management Officer may add an officer account"));
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
            let issued = issue_credentials(tx, ctx, id, &roles.to_text())?;
            let now = audit::now();
            tx.execute(
                "INSERT INTO accounts (id, name, roles, hpke_public, sign_public, must_change_password, password_changed_at, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)",
                params![id, name, roles.to_text(), issued.hpke_public, issued.sign_public, now, ctx.actor.id],
            )?;
            let (password, slots) = (issued.password, issued.slots);
            record_history(tx, id, &password)?;
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
            let policy = Policy::load(tx)?;
            check_password_rules(new, &policy, &ctx.actor.id, &ctx.actor.name)?;
            check_and_record_history(tx, &ctx.actor.id, new, policy.number("password.history"))?;
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
        })?;
        self.refresh_restriction()
    }
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
    fn word(self) -> &'static str {
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
fn check_may_manage(tx: &rusqlite::Transaction, ctx: &session::Ctx, id: &str) -> Result<()> {
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

fn account_status(tx: &rusqlite::Transaction, id: &str) -> Result<String> {
    tx.query_row("SELECT status FROM accounts WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("account {id}")))
}

/// End every open session of an account and destroy their key material.
fn end_sessions(
    tx: &rusqlite::Transaction,
    dir: &std::path::Path,
    id: &str,
    reason: &str,
) -> Result<()> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM sessions WHERE account = ?1 AND ended_at IS NULL")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for s in ids {
        tx.execute(
            "UPDATE sessions SET ended_at = ?2, ended_reason = ?3 WHERE id = ?1",
            params![s, audit::now(), reason],
        )?;
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            crate::fsutil::remove_overwritten(&dir.join(crate::vault::SESSIONS_DIR).join(&s))?;
        }
    }
    Ok(())
}

impl Session {
    /// Suspend, resume, disable or unlock an account.
    pub fn account_lifecycle(&mut self, id: &str, what: Lifecycle) -> Result<()> {
        let object = format!("account:{id}");
        self.perform(Action::AccountManage, &object, |tx, ctx| {
            let status = account_status(tx, id)?;
            check_may_manage(tx, ctx, id)?;
            if id == ctx.actor.id && what != Lifecycle::Unlock {
                return Err(Error::invalid(
                    "you cannot change the state of your own account",
                ));
            }
            if status == "disabled" {
                return Err(Error::invalid(format!("account {id} is disabled for good")));
            }
            let mut done = Done::ok((), what.word());
            match what {
                Lifecycle::Suspend => {
                    tx.execute(
                        "UPDATE accounts SET status = 'suspended' WHERE id = ?1",
                        [id],
                    )?;
                    end_sessions(tx, &ctx.dir, id, "account suspended")?;
                }
                Lifecycle::Resume => {
                    if status != "suspended" {
                        return Err(Error::invalid(format!("account {id} is not suspended")));
                    }
                    tx.execute("UPDATE accounts SET status = 'active' WHERE id = ?1", [id])?;
                }
                Lifecycle::Disable => {
                    tx.execute(
                        "UPDATE accounts SET status = 'disabled' WHERE id = ?1",
                        [id],
                    )?;
                    let grants = tx.execute("DELETE FROM wraps WHERE holder = ?1", [id])?;
                    tx.execute("DELETE FROM regrant_pending WHERE account = ?1", [id])?;
                    end_sessions(tx, &ctx.dir, id, "account disabled")?;
                    let mut slots = KeySlots::load(&ctx.keyslots_path())?;
                    let name = slots.slot_name(id);
                    slots.slots.remove(&name);
                    slots.db_keys.remove(&name);
                    done.keyslots = Some(slots);
                    done.detail = format!("disable; {grants} grants destroyed");
                }
                Lifecycle::Unlock => {
                    let mut state = crate::lockout::SigninState::load(&ctx.dir)?;
                    let name = KeySlots::load(&ctx.keyslots_path())?.slot_name(id);
                    if !state.clear(&name) {
                        return Err(Error::invalid(format!("account {id} is not locked")));
                    }
                    state.save(&ctx.dir)?;
                }
            }
            Ok(done)
        })
    }

    /// Allowed hours for one person (Japan time), or back to their role's.
    pub fn set_account_hours(&mut self, id: &str, hours: Option<&str>) -> Result<()> {
        let object = format!("account:{id}");
        self.perform(Action::AccountManage, &object, |tx, _| {
            account_status(tx, id)?;
            let hours = hours.map(Hours::parse).transpose()?;
            let text = hours.map(Hours::to_text);
            tx.execute(
                "UPDATE accounts SET hours = ?2 WHERE id = ?1",
                params![id, text],
            )?;
            Ok(Done::ok(
                (),
                format!("hours={}", text.as_deref().unwrap_or("role")),
            ))
        })
    }

    /// Force a reset (P5): new keys and a new initial password (shown
    /// once), TOTP off, sessions ended. Nobody learns the old password.
    /// Documents the person held are listed for `recover_account`, which
    /// the officer runs with the recovery code.
    pub fn reset_account(&mut self, id: &str) -> Result<NewAccount> {
        let object = format!("account:{id}");
        self.perform(Action::AccountManage, &object, |tx, ctx| {
            let status = account_status(tx, id)?;
            check_may_manage(tx, ctx, id)?;
            if status == "disabled" {
                return Err(Error::invalid(format!("account {id} is disabled for good")));
            }
            if id == ctx.actor.id {
                return Err(Error::invalid("change your own password with kinko passwd"));
            }
            let roles: String = tx.query_row("SELECT roles FROM accounts WHERE id = ?1", [id], |r| r.get(0))?;
            let issued = issue_credentials(tx, ctx, id, &roles)?;
            tx.execute(
                "INSERT OR IGNORE INTO regrant_pending (account, doc_id) SELECT holder, doc_id FROM wraps WHERE holder = ?1",
                [id],
            )?;
            let held = tx.execute("DELETE FROM wraps WHERE holder = ?1", [id])?;
            tx.execute(
                "UPDATE accounts SET hpke_public = ?2, sign_public = ?3, must_change_password = 1, password_changed_at = ?4,
                 totp_secret = NULL, totp_enabled = 0, totp_last_step = 0 WHERE id = ?1",
                params![id, issued.hpke_public, issued.sign_public, audit::now()],
            )?;
            end_sessions(tx, &ctx.dir, id, "account reset")?;
            let (password, slots) = (issued.password, issued.slots);
            record_history(tx, id, &password)?;
            let mut lockout = crate::lockout::SigninState::load(&ctx.dir)?;
            if lockout.clear(&slots.slot_name(id)) {
                lockout.save(&ctx.dir)?;
            }
            let mut done = Done::ok(
                NewAccount { id: id.to_string(), initial_password: password },
                format!("reset; {held} documents await recovery"),
            );
            done.keyslots = Some(slots);
            Ok(done)
        })
    }

    /// Give a reset account back the documents it held, from the
    /// custodian's copies of their keys (officer, with the recovery code).
    pub fn recover_account(&mut self, id: &str, recovery_code: &str) -> Result<usize> {
        let object = format!("account:{id}");
        self.perform(Action::AccountRecover, &object, |tx, ctx| {
            let custodian = crate::vault::parse_recovery_code(recovery_code)?;
            let public = crypto::HpkeKeyPair::public_of(&custodian)?;
            if public != session::meta(tx, "custodian_public")? {
                return Err(Error::denied(
                    "that recovery code does not belong to this vault",
                ));
            }
            let (status, own_public): (String, Vec<u8>) = tx
                .query_row(
                    "SELECT status, hpke_public FROM accounts WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| Error::NotFound(format!("account {id}")))?;
            if status != "active" {
                return Err(Error::denied(format!("account {id} is {status}")));
            }
            let must_change: bool = tx.query_row(
                "SELECT must_change_password FROM accounts WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if must_change {
                // The keys belong to the person only once they chose their
                // own password; until then whoever reset it knows it.
                return Err(Error::denied(format!(
                    "{id} must first sign in and set their own password"
                )));
            }
            crate::roster::check_may_receive(tx, id)?;
            let docs: Vec<i64> = tx
                .prepare("SELECT doc_id FROM regrant_pending WHERE account = ?1 ORDER BY doc_id")?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for doc_id in &docs {
                let doc = crate::document::load_doc(tx, *doc_id)?;
                let wrap = crate::document::load_wrap(tx, *doc_id, crate::document::CUSTODIAN)?
                    .ok_or_else(|| {
                        Error::tampered(format!("document {doc_id} has no custodian key"))
                    })?;
                let ctx_bytes = crate::document::wrap_context(
                    &ctx.vault_id,
                    &doc.uid,
                    crate::document::CUSTODIAN,
                );
                let dek = crypto::hpke_unwrap(&custodian, &ctx_bytes, &wrap).ok_or_else(|| {
                    Error::tampered(format!(
                        "the custodian key of document {doc_id} does not open"
                    ))
                })?;
                let dek: [u8; 32] = dek
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::tampered("a document key has the wrong length"))?;
                let dek = zeroize::Zeroizing::new(dek);
                crate::document::store_wrap(tx, ctx, *doc_id, &doc.uid, id, &own_public, &dek)?;
            }
            tx.execute("DELETE FROM regrant_pending WHERE account = ?1", [id])?;
            let n = docs.len();
            Ok(Done::ok(n, format!("{n} documents re-granted")))
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
            assert_eq!(p.as_str().len(), 16);
        }
    }
}
