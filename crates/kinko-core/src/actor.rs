//! Who is acting, from which terminal, with which keys: what every action
//! and every rule that needs the actor's keys is handed. It knows nothing
//! of sessions (a session holds one).

use std::path::PathBuf;

use serde::Serialize;

use crate::audit::{Event, EventSigner};
use crate::keyslots::SlotSecrets;
use crate::layout::{KEYSLOTS_FILE, OBJECTS_DIR};
use crate::permission::Roles;

/// Who is acting.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub roles: Roles,
    /// Why this person may, for now, only set their credentials (a new
    /// or reset account, an expired password, TOTP not yet enrolled).
    pub restriction: Option<String>,
    /// What the restriction asks for, for a shell that leads the person
    /// through it (the app's forced password change and TOTP enrolment).
    pub pending: Option<Pending>,
}

/// The step a restricted person must take before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    ChangePassword,
    EnrolTotp,
    /// The policy asks for a token bound to the keyslot (`kinko token
    /// enrol`).
    EnrolToken,
    /// The officer has not yet certified this person's keys (a new or
    /// reset account): they show their key fingerprint to the officer.
    Certification,
}

/// What an action's closure may use besides the transaction.
pub struct Ctx {
    pub actor: Actor,
    pub terminal: String,
    pub vault_id: String,
    pub dir: PathBuf,
    pub(crate) secrets: SlotSecrets,
    /// The root signing key this person's keyslot trusts (checked against
    /// their anchor at sign-in): every certificate is checked against it.
    pub(crate) root_public: Vec<u8>,
    /// The custodian key this person's keyslot trusts: every wrap to the
    /// custodian uses it, never a copy read from the database later.
    pub(crate) custodian_public: Vec<u8>,
    /// The serial of the certificate this person acts under (none until
    /// the officer certified the keys their slot holds).
    pub(crate) cert_serial: Option<i64>,
    /// Where this terminal remembers the trail this person saw, if the
    /// shell gave a place (`witness.rs`).
    pub(crate) witness: Option<crate::witness::Place>,
    /// This session's record in `sessions` (one live session per person:
    /// a newer sign-in ends it, and every action checks it is still live).
    pub(crate) session: String,
    /// This person as the signer of their events, made at the first event
    /// (parsing the key once) and made again when their keys or
    /// certificate change in the session ([`Ctx::keys_changed`]).
    pub(crate) events: std::sync::OnceLock<EventSigner>,
    /// The token's part of this person's keyslot, when it has one and this
    /// session was opened with it (a password change seals it in again).
    pub(crate) factor: Option<crate::keyslots::Factor>,
    /// The office server's log, when this vault is a replica of one
    /// (`replica.rs`): every write goes through it.
    pub(crate) replica: Option<std::sync::Arc<crate::replica::Replica>>,
}

impl Ctx {
    /// An object file's path for reading: on a replica, fetched from the
    /// server first if this terminal does not have it yet.
    pub(crate) fn object_to_read(
        &self,
        name: &crate::object::ObjectName,
    ) -> crate::error::Result<PathBuf> {
        if let Some(r) = &self.replica {
            r.ensure_object(name)?;
        }
        Ok(self.object_path(name))
    }

    /// Begin a write transaction (appended to the server's log at commit
    /// when the vault is a replica).
    pub(crate) fn begin_write<'c>(
        &self,
        conn: &'c rusqlite::Connection,
    ) -> crate::error::Result<crate::replica::WriteTx<'c>> {
        crate::replica::begin_write(conn, self.replica.as_ref())
    }

    pub(crate) fn objects_dir(&self) -> PathBuf {
        self.dir.join(OBJECTS_DIR)
    }
    /// The path of a document's object file.
    pub(crate) fn object_path(&self, name: &crate::object::ObjectName) -> PathBuf {
        name.path(&self.objects_dir())
    }
    /// Check a signed statement against the root this person's slot trusts.
    pub(crate) fn check_statement(
        &self,
        conn: &rusqlite::Connection,
        claim: &crate::statement::Claim,
        signed: (Option<Vec<u8>>, Option<Vec<u8>>),
    ) -> crate::error::Result<()> {
        crate::statement::check(conn, &self.vault_id, &self.root_public, claim, signed)
    }
    /// This person as the signer of a statement (a wrap's grant).
    pub(crate) fn signer(&self) -> crate::error::Result<crate::grant::Signer<'_>> {
        let serial = self.cert_serial.ok_or_else(|| {
            crate::error::Error::denied("the officer has not certified your keys yet")
        })?;
        Ok(crate::grant::Signer {
            vault_id: &self.vault_id,
            account: &self.actor.id,
            serial,
            secret: &self.secrets.sign_secret,
        })
    }

    /// What this terminal remembers of the trail this person saw.
    pub(crate) fn remembered(&self) -> crate::error::Result<Option<crate::witness::Memory>> {
        match &self.witness {
            Some(place) => place.load(&self.secrets.sign_secret),
            None => Ok(None),
        }
    }

    /// Remember the trail as it is now as seen by this person, and
    /// `verified` as the head up to which they checked every signature.
    pub(crate) fn remember(
        &self,
        conn: &rusqlite::Connection,
        verified: Option<crate::witness::Head>,
    ) -> crate::error::Result<()> {
        let Some(place) = &self.witness else {
            return Ok(());
        };
        let seen = crate::witness::head_now(conn)?;
        place.save(&self.secrets.sign_secret, &place.memory(seen, verified))
    }

    /// Remember the trail as it is now, keeping the verified head while
    /// the trail still holds it (sign-in, sign-out).
    pub(crate) fn remember_seen(&self, conn: &rusqlite::Connection) -> crate::error::Result<()> {
        let verified = match self.remembered()?.and_then(|m| m.verified) {
            Some(h) if crate::witness::holds(conn, &h)? => Some(h),
            _ => None,
        };
        self.remember(conn, verified)
    }

    /// The head up to which this person checked every signature before.
    pub(crate) fn verified_head(&self) -> crate::error::Result<Option<crate::witness::Head>> {
        Ok(self.remembered()?.and_then(|m| m.verified))
    }

    pub(crate) fn keyslots_path(&self) -> PathBuf {
        self.dir.join(KEYSLOTS_FILE)
    }
    /// This person as the signer of the events their session writes.
    pub(crate) fn event_signer(&self) -> crate::error::Result<&EventSigner> {
        if let Some(signer) = self.events.get() {
            return Ok(signer);
        }
        let signer = EventSigner::new(
            &self.vault_id,
            &self.root_public,
            &self.actor.id,
            self.cert_serial,
            &self.secrets.sign_secret,
        )?;
        Ok(self.events.get_or_init(|| signer))
    }
    /// The person's keys or certificate changed in this session: their
    /// next event is signed with what they hold now.
    pub(crate) fn keys_changed(&mut self) {
        self.events = std::sync::OnceLock::new();
    }
    /// Append `e` to the trail, signed by this person.
    pub(crate) fn append(
        &self,
        conn: &rusqlite::Connection,
        e: &Event,
    ) -> crate::error::Result<i64> {
        crate::audit::append(conn, e, self.event_signer()?)
    }
    pub(crate) fn event(&self, event: &str, object: &str, outcome: &str, detail: &str) -> Event {
        Event::new(
            &self.actor.id,
            event,
            object,
            outcome,
            &self.terminal,
            detail,
        )
    }
}
