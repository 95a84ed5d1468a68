//! Start: signing in (`Vault::sign_in`), one's own credentials (password,
//! one-time code) and the vault's status. Sign-in itself runs before any
//! session exists: failures are counted for the lockout and sealed into the
//! inbox; `session::open_signed_in` does the rest.

use crate::account::Password;
use crate::audit;
use crate::audit::Event;
use crate::credentials::*;
use crate::crypto::kdf::KdfParams;
use crate::crypto::{self};
use crate::error::{Error, Result};
use crate::keyslots::KeySlots;
use crate::lockout::Settled;
use crate::permission::Action;
use crate::policy::Policy;
use crate::session::{self, Done, Proof, Session};
use crate::vault::*;
use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

impl Session {
    /// Start TOTP enrolment: a new secret, shown once as an otpauth URI
    /// (for a QR code) and in base32. It takes effect at `totp_confirm`.
    pub fn totp_enroll(&mut self) -> Result<TotpEnrolment> {
        let object = format!("account:{}", self.actor().id);
        self.perform(Action::TotpEnroll, &object, |tx, ctx| {
            let enabled: bool = tx.query_row("SELECT totp_enabled FROM accounts WHERE id = ?1", [&ctx.actor.id], |r| r.get(0))?;
            if enabled {
                return Err(Error::invalid("TOTP is already on; the system administrator can reset it"));
            }
            let secret = Zeroizing::new(crypto::random::<20>().to_vec());
            let totp = totp_for(&secret, &ctx.actor.id)?;
            tx.execute(
                "UPDATE accounts SET totp_secret = ?2, totp_enabled = 0, totp_last_step = 0 WHERE id = ?1",
                params![ctx.actor.id, crate::credentials::TotpOwner::of(ctx).seal(&secret)],
            )?;
            let enrolment = TotpEnrolment {
                uri: totp.to_url().map_err(|e| Error::Crypto(format!("TOTP: {e}")))?,
                secret_base32: totp.secret().to_base32(),
            };
            Ok(Done::ok(enrolment, "enrolment started"))
        })
    }

    /// Turn TOTP on by proving the authenticator shows the right code.
    pub fn totp_confirm(&mut self, code: &str) -> Result<()> {
        let object = format!("account:{}", self.actor().id);
        self.perform(Action::TotpConfirm, &object, |tx, ctx| {
            let secret: Option<Vec<u8>> = tx.query_row(
                "SELECT totp_secret FROM accounts WHERE id = ?1",
                [&ctx.actor.id],
                |r| r.get(0),
            )?;
            let enabled: bool = tx.query_row(
                "SELECT totp_enabled FROM accounts WHERE id = ?1",
                [&ctx.actor.id],
                |r| r.get(0),
            )?;
            if enabled {
                return Err(Error::invalid("TOTP is already on"));
            }
            let stored = secret.ok_or_else(|| Error::invalid("start with kinko totp enroll"))?;
            let (secret, _) = crate::credentials::TotpOwner::of(ctx).open(&stored)?;
            let totp = totp_for(&secret, &ctx.actor.id)?;
            let step = totp
                .check(code.trim(), Utc::now().timestamp() as u64)
                .ok_or_else(|| {
                    Error::invalid(
                        "the code does not match; check the authenticator's clock and try again",
                    )
                })?;
            tx.execute(
                "UPDATE accounts SET totp_enabled = 1, totp_last_step = max(totp_last_step, ?2) WHERE id = ?1",
                params![ctx.actor.id, step as i64],
            )?;
            Ok(Done::ok((), "TOTP on"))
        })?;
        self.refresh_restriction()
    }
}

impl Session {
    /// Counts and state of the vault.
    pub fn status(&mut self, public: PublicStatus) -> Result<VaultStatus> {
        let (key_fingerprint, certified) =
            (self.key_fingerprint()?, self.ctx.cert_serial.is_some());
        self.perform(crate::permission::Action::Status, "vault", |tx, ctx| {
            let text = |k: &str| -> Result<String> {
                Ok(String::from_utf8_lossy(&crate::db::meta(tx, k)?).into_owned())
            };
            let count = |table: &str| -> Result<i64> {
                Ok(tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
            };
            let status = VaultStatus {
                public,
                council: text("council")?,
                state: text("state")?,
                created_at: text("created_at")?,
                accounts: count("accounts")?,
                documents: count("documents")?,
                // Archived events included: the size of the tree.
                audit_events: crate::audit::size(tx)? as i64,
                last_event_at: tx
                    .query_row("SELECT max(at) FROM audit_events", [], |r| r.get(0))?,
                last_checkpoint: tx
                    .query_row(
                        "SELECT at FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?,
                report_key_fingerprint: crypto::hex(&crypto::sha256(
                    &crypto::SigningKeyPair::public_of(&ctx.secrets.sign_secret)?,
                )),
                key_fingerprint,
                certified,
            };
            Ok(Done::ok(status, ""))
        })
    }

    /// Change one's own password: the keyslot is sealed again under the
    /// new password; the keys inside do not change.
    pub fn change_password(&mut self, new: &Password) -> Result<()> {
        let object = format!("account:{}", self.ctx.actor.id);
        let renewed = self.perform(Action::ChangeOwnPassword, &object, |tx, ctx| {
            let policy = Policy::load(tx)?;
            check_password_rules(new, &policy, &ctx.actor.id, &ctx.actor.name)?;
            let mut slots = KeySlots::load(&ctx.keyslots_path())?;
            let profile = slots
                .slot(&ctx.actor.id)
                .map(|s| s.kdf.profile())
                .ok_or_else(|| Error::tampered("your keyslot is missing"))?;
            // Until the officer certified this person's keys, every
            // password of their own makes new ones: whoever set an initial
            // password knew it and so the keys it sealed, so only keys
            // made under a password nobody else knows are put forward.
            let (secrets, mut detail) = if ctx.cert_serial.is_none() {
                let (secrets, fingerprint) = own_keys(tx, ctx)?;
                // A one-time code already set up, and the password
                // history, follow the keys.
                let new_owner = crate::credentials::TotpOwner {
                    vault_id: &ctx.vault_id,
                    account: &ctx.actor.id,
                    own: &secrets.hpke_secret,
                };
                crate::credentials::reseal_totp(tx, &crate::credentials::TotpOwner::of(ctx), &new_owner)?;
                let public = crypto::HpkeKeyPair::public_of(&secrets.hpke_secret)?;
                crate::credentials::reseal_history(
                    tx,
                    &ctx.vault_id,
                    Some(&ctx.secrets.hpke_secret),
                    &HistoryOwner { vault_id: &ctx.vault_id, account: &ctx.actor.id, public: &public },
                )?;
                (Some(secrets), format!("new keys {fingerprint} await certification"))
            } else {
                (None, String::new())
            };
            let own = secrets.as_ref().unwrap_or(&ctx.secrets);
            let public = crypto::HpkeKeyPair::public_of(&own.hpke_secret)?;
            check_and_record_history(
                tx,
                &HistoryOwner { vault_id: &ctx.vault_id, account: &ctx.actor.id, public: &public },
                &own.hpke_secret,
                new,
                policy.number("password.history"),
            )?;
            // Whoever knew the old password may hold a session opened with
            // it: every other session ends.
            let ended = crate::account::end_sessions(
                tx,
                &ctx.dir,
                &ctx.actor.id,
                "password changed",
                Some(&ctx.session),
            )?;
            if ended > 0 {
                detail = crate::session::with_note(&detail, &format!("{ended} other sessions ended"));
            }
            // A slot bound to a token stays bound: the new password is
            // combined with the same token's secret.
            let factor = match (slots.token_of(&ctx.actor.id), &ctx.factor) {
                (None, _) => None,
                (Some(_), Some(f)) => Some(f),
                (Some(t), None) => {
                    return Err(Error::TokenNeeded(format!(
                        "sign in with your token '{}' to change your password",
                        t.label()
                    )))
                }
            };
            slots.set(
                &ctx.actor.id,
                new.as_bytes(),
                KdfParams::new(profile),
                secrets.as_ref().unwrap_or(&ctx.secrets),
                factor,
            )?;
            tx.execute(
                "UPDATE accounts SET must_change_password = 0, password_changed_at = ?2 WHERE id = ?1",
                params![ctx.actor.id, audit::now()],
            )?;
            let mut done = Done::ok(secrets, detail);
            done.keyslots = Some(slots);
            Ok(done)
        })?;
        if let Some(secrets) = renewed {
            self.renew_secrets(secrets);
        }
        self.refresh_restriction()
    }
}

impl Session {
    /// Bind one's own keyslot to a PKCS#11 token as well (P6,
    /// `possession.rs`): from now on the password alone opens nothing,
    /// not even from the files. The password is asked again, since the
    /// slot is sealed anew under it and the token's secret. Returns the
    /// token's label.
    pub fn token_enrol(
        &mut self,
        password: &Password,
        access: &crate::possession::TokenAccess,
    ) -> Result<String> {
        let object = format!("account:{}", self.ctx.actor.id);
        let factor = self.perform(Action::TokenEnrol, &object, |_, ctx| {
            let id = &ctx.actor.id;
            let mut slots = KeySlots::load(&ctx.keyslots_path())?;
            if let Some(t) = slots.token_of(id) {
                return Err(Error::invalid(format!(
                    "your keyslot is already bound to the token '{}'",
                    t.label()
                )));
            }
            let profile = slots
                .slot(id)
                .map(|s| s.kdf.profile())
                .ok_or_else(|| Error::tampered("your keyslot is missing"))?;
            slots
                .unlock(id, password.as_bytes(), None)
                .map_err(|e| match e {
                    Error::BadCredentials => Error::field("password", "that is not your password"),
                    e => e,
                })?;
            let (binding, secret) = crate::possession::enrol(access, id)?;
            let factor = crate::keyslots::Factor { binding, secret };
            slots.set(
                id,
                password.as_bytes(),
                KdfParams::new(profile),
                &ctx.secrets,
                Some(&factor),
            )?;
            let detail = format!(
                "token '{}' key {}",
                factor.binding.label(),
                factor.binding.key_id
            );
            let mut done = Done::ok(factor, detail);
            done.keyslots = Some(slots);
            Ok(done)
        })?;
        let label = factor.binding.label();
        self.ctx.factor = Some(factor);
        self.refresh_restriction()?;
        Ok(label)
    }
}

/// New key pairs for the signed-in person, their own signed request for
/// certification on their row, and any document keys wrapped to the old
/// keys set aside for the officer's `account recover`. Returns the slot
/// secrets to seal and the fingerprint the person shows the officer.
fn own_keys(
    tx: &rusqlite::Transaction,
    ctx: &crate::actor::Ctx,
) -> Result<(crate::keyslots::SlotSecrets, String)> {
    let id = &ctx.actor.id;
    let hpke = crypto::HpkeKeyPair::generate();
    let sign = crypto::SigningKeyPair::generate();
    let request = crate::cert::sign_request(
        &ctx.vault_id,
        id,
        &hpke.public,
        &sign.secret,
        &ctx.root_public,
    )?;
    crate::document::set_aside_wraps(tx, id)?;
    // Circle keys wrapped to the old keys: the officer wraps them again
    // when certifying the new ones.
    crate::circle::leave_all(tx, id)?;
    tx.execute(
        "UPDATE accounts SET hpke_public = ?2, sign_public = ?3, key_request = ?4 WHERE id = ?1",
        params![id, hpke.public, sign.public, request],
    )?;
    // Other sessions hold the old keys: they end (sign in again).
    crate::account::end_sessions(tx, &ctx.dir, id, "new keys", Some(&ctx.session))?;
    let mut secrets = ctx.secrets.clone();
    secrets.hpke_secret = *hpke.secret;
    secrets.sign_secret = *sign.secret;
    let fingerprint = crate::cert::fingerprint(
        &ctx.vault_id,
        id,
        &hpke.public,
        &sign.public,
        &ctx.root_public,
    );
    Ok((secrets, fingerprint))
}

impl Vault {
    /// Upgrade a vault an earlier release made (schema 2) to certificates,
    /// once, as its officer with the recovery code (`upgrade.rs`).
    pub fn upgrade(
        &self,
        id: &str,
        password: &Password,
        totp: Option<&str>,
        recovery_code: &str,
        terminal: &str,
    ) -> Result<crate::upgrade::UpgradeReport> {
        // The upgrade checks a password and a code too: a guess counts
        // like a sign-in's, and is settled only once both held.
        let slot = self.slots.slot_name(id);
        let copy = self.lockout_copy();
        crate::lockout::count_guess(&self.dir, copy, &slot, chrono::Utc::now())?;
        let (secrets, _) = self
            .slots
            .unlock(id, password.as_bytes(), self.token.as_ref())?;
        let (mut conn, secrets) = session::open_database(self, id, secrets)?;
        session::check_keyslots_match(&conn, self)?;
        let owner = crate::credentials::TotpOwner {
            vault_id: &self.slots.vault_id,
            account: id,
            own: &secrets.hpke_secret,
        };
        check_totp(&conn, &owner, totp).map_err(|e| match e {
            Error::NotSignedIn(m) => Error::BadCode(m),
            other => other,
        })?;
        self.settle_signed_in(copy, &slot, &conn)?;
        let upgrader = crate::upgrade::Upgrader {
            vault_id: &self.slots.vault_id,
            id,
            secrets: &secrets,
            password,
            recovery_code,
            terminal,
            keyslots_path: &self.dir.join(KEYSLOTS_FILE),
        };
        match crate::db::schema_version(&conn)? {
            2 => crate::upgrade::from_schema_2(&mut conn, &upgrader),
            3 => crate::upgrade::from_schema_3(&mut conn, &upgrader),
            _ => Err(Error::invalid("the vault is already upgraded")),
        }
    }

    /// Sign in with ID, password and (once enrolled) a one-time code.
    /// Failures are counted towards the lockout and, since the database
    /// cannot be opened without a slot, sealed into the inbox.
    pub fn sign_in(
        &self,
        id: &str,
        password: &Password,
        totp: Option<&str>,
        terminal: &str,
    ) -> Result<Session> {
        let slot = self.slots.slot_name(id);
        let copy = self.lockout_copy();
        let now = chrono::Utc::now();
        // Counted before the password is checked, under the state's lock:
        // parallel guesses cannot all pass the check before any counts.
        let locked = match crate::lockout::count_guess(&self.dir, copy, &slot, now) {
            Ok(locked) => locked,
            Err(e) => {
                if matches!(e, Error::Locked(_)) {
                    self.seal_signin_failure(id, terminal, &e)?;
                }
                return Err(e);
            }
        };
        let opened = self
            .slots
            .unlock(id, password.as_bytes(), self.token.as_ref())
            .map_err(|e| (e, true))
            .and_then(|(secrets, factor)| {
                session::open_signed_in(
                    self,
                    id,
                    secrets,
                    terminal,
                    Proof::Password {
                        password,
                        totp,
                        factor,
                    },
                )
                // A wrong one-time code counts towards the lockout; its
                // event is already in the database.
                .map_err(|e| {
                    let counts = matches!(e, Error::BadCode(_));
                    (e, counts)
                })
            });
        match opened {
            Ok(s) => {
                self.settle_signed_in(copy, &slot, &s.conn)?;
                Ok(s)
            }
            Err((e, true)) => {
                if !matches!(e, Error::BadCode(_)) {
                    let note = locked
                        .map(|t| format!("; locked until {t}"))
                        .unwrap_or_default();
                    self.seal_signin_failure(id, terminal, &Error::Invalid(format!("{e}{note}")))?;
                }
                Err(e)
            }
            Err((e, false)) => {
                crate::lockout::settle_guess(&self.dir, copy, &slot, Settled::Refused)?;
                Err(e)
            }
        }
    }

    /// A guess that signed in: the counts are cleared, and the lockout
    /// policy beside the keyslots follows the officer's signed one.
    fn settle_signed_in(
        &self,
        copy: Option<(&std::path::Path, &str)>,
        slot: &str,
        conn: &rusqlite::Connection,
    ) -> Result<()> {
        let signed = crate::policy::Policy::load(conn)?;
        crate::lockout::settle_guess(
            &self.dir,
            copy,
            slot,
            Settled::SignedIn(crate::policy::lockout_policy(&signed)),
        )
    }

    /// Where this terminal keeps its copy of the lockout counts (beside
    /// its memory of the trail), if it keeps one.
    fn lockout_copy(&self) -> Option<(&std::path::Path, &str)> {
        self.witness_dir
            .as_deref()
            .map(|d| (d, self.slots.vault_id.as_str()))
    }

    /// Record a failed sign-in in the inbox. An ID that has no slot here
    /// is no account's, and may be a password typed into the wrong box:
    /// it is never written, not even sealed (the inbox key is in the
    /// database, which everyone with an account can open). Such attempts
    /// are recorded as "unknown", counted together.
    fn seal_signin_failure(&self, id: &str, terminal: &str, e: &Error) -> Result<()> {
        let outcome = audit::outcome_of(e);
        let (id, detail) = if self.slots.slot(id).is_none() {
            (
                audit::UNKNOWN_ID.to_string(),
                "an ID that belongs to no account (not recorded as typed)".to_string(),
            )
        } else {
            // A real ID: printable and short all the same.
            let id: String = id.chars().take(64).flat_map(char::escape_default).collect();
            let detail = match e {
                Error::Invalid(m) => m.clone(),
                other => other.to_string(),
            };
            (id, detail)
        };
        let event = Event::new(
            &id,
            "session.signin",
            &format!("account:{id}"),
            outcome,
            terminal,
            &detail,
        );
        self.seal_to_inbox(&event)
    }

    /// Resume a session started by `login` from its token.
    pub fn resume(&self, token: &str, terminal: &str) -> Result<Session> {
        session::resume(self, token, terminal)
    }
}
