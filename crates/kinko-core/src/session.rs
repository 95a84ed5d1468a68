//! A signed-in person's session, and the one path every action takes
//! through it: check permission, do the work, write the audit event, all
//! in one transaction ([`Session::perform`]).
//!
//! `login` makes a session that outlives the process: its keys are sealed
//! under a fresh random session key into `sessions/<id>`, and the token
//! `<id>.<key>` is handed to the user (like `bw unlock`). The file alone
//! opens nothing; ending the session overwrites and deletes it.

use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use zeroize::Zeroizing;

pub use crate::actor::{Actor, Ctx, Pending};
use crate::audit::{self};
use crate::credentials::PasswordAge;
use crate::crypto;
use crate::db;
use crate::db::{meta, meta_key};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keyslots::{anchor, anchor_v2, AccountFacts, VaultFacts};
use crate::keyslots::{KeySlots, SlotSecrets};
use crate::layout::{DB_FILE, INBOX_DIR, SESSIONS_DIR};
use crate::permission::{self, Action, Roles};
use crate::policy::{Hours, Policy};
use crate::token::{self, open_session_file, parse_token};
use crate::vault::Vault;

/// What an action's work produced: its value and what its audit event
/// says about it.
pub(crate) struct Done<T> {
    pub value: T,
    pub detail: String,
    /// The object, when it is only known once the work is done (a new
    /// document's id).
    pub object: Option<String>,
    pub outcome: &'static str,
    /// A keyslots file to put in place once the event is written, just
    /// before the commit (and to put back if the commit fails), so a
    /// password never changes without its event.
    pub keyslots: Option<KeySlots>,
    /// A terminal the office server approves with this action's unit.
    pub approve_device: Option<crate::replica::DeviceApproval>,
}

impl<T> Done<T> {
    pub fn ok(value: T, detail: impl Into<String>) -> Self {
        Done {
            value,
            detail: detail.into(),
            object: None,
            outcome: audit::OK,
            keyslots: None,
            approve_device: None,
        }
    }
}

/// Who set an action going: the person (their session is active), or the
/// program on its own (it is not).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Activity {
    Person,
    Program,
}

/// A signed-in session: an open database and the actor's keys.
pub struct Session {
    pub(crate) conn: Connection,
    pub(crate) ctx: Ctx,
    token_id: Option<String>,
    notices: Vec<String>,
    /// The policy this session last found signed (`policy::check_signed`).
    policy_seen: Option<[u8; 32]>,
    /// Long work is under way (`require` passed; its `perform` comes at
    /// the end): the time it takes is no idleness.
    long_work: bool,
    /// When [`Session::touch`] last wrote the activity time.
    touched: Option<std::time::Instant>,
    /// The terminal the office server approved with the last action's
    /// unit (`approve_device`).
    pub(crate) approved: Option<crate::replica::ApprovedTerminal>,
}

impl Session {
    pub fn actor(&self) -> &Actor {
        &self.ctx.actor
    }

    /// Check `action` is allowed, run `work` in one immediate transaction,
    /// and write its event in that transaction. A refusal or a failure is
    /// logged in its own transaction afterwards, so it is recorded even
    /// though nothing else was.
    pub(crate) fn perform<T>(
        &mut self,
        action: Action,
        object: &str,
        work: impl FnOnce(&Transaction, &Ctx) -> Result<Done<T>>,
    ) -> Result<T> {
        self.perform_as(Activity::Person, action, object, work)
    }

    /// [`Session::perform`] for what a program does on its own while the
    /// person may be away (a watch for new alerts): logged the same, but
    /// no activity, so the session still goes idle.
    pub(crate) fn perform_unattended<T>(
        &mut self,
        action: Action,
        object: &str,
        work: impl FnOnce(&Transaction, &Ctx) -> Result<Done<T>>,
    ) -> Result<T> {
        self.perform_as(Activity::Program, action, object, work)
    }

    fn perform_as<T>(
        &mut self,
        activity: Activity,
        action: Action,
        object: &str,
        work: impl FnOnce(&Transaction, &Ctx) -> Result<Done<T>>,
    ) -> Result<T> {
        let attempt = (|| {
            self.catch_up()?;
            self.check_live()?;
            if activity == Activity::Person {
                self.long_work = false;
            }
            self.follow_certificate()?;
            permission::check(&self.ctx.actor.roles, action)?;
            self.check_restriction(action)?;
            let tx = self.ctx.begin_write(&self.conn)?;
            // Activity, in the action's own transaction (no second write).
            if activity == Activity::Person {
                tx.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1")?
                    .execute(params![self.ctx.session, audit::now()])?;
            }
            // Every rule reads the policy: it must be the officer's.
            crate::policy::check_signed(
                &tx,
                &self.ctx.vault_id,
                &self.ctx.root_public,
                &mut self.policy_seen,
            )?;
            let done = work(&tx, &self.ctx)?;
            let object = done.object.as_deref().unwrap_or(object);
            self.ctx.append(
                &tx,
                &self
                    .ctx
                    .event(action.event(), object, done.outcome, &done.detail),
            )?;
            match (&done.keyslots, &done.approve_device) {
                (Some(new), _) => tx.commit_with_keyslots(&self.ctx.keyslots_path(), new)?,
                (None, Some(approval)) => self.approved = Some(tx.commit_approving(approval)?),
                (None, None) => tx.commit()?,
            }
            Ok(done.value)
        })();
        if let Err(e) = &attempt {
            self.log_failure(action.event(), object, e);
        }
        attempt
    }

    /// Run `work` with the vault to this connection alone (`rekey`,
    /// `disposal execute`): no other process reads or writes while keys and
    /// files change under it (a reader would find a file overwritten, a
    /// writer a key that no longer opens). Leaving WAL needs the only connection, so a vault open
    /// elsewhere (the app, another command) is refused at once.
    pub(crate) fn with_vault_alone<T>(
        &mut self,
        doing: &str,
        work: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let in_use = || {
            Error::Database(format!(
                "the vault is in use by another process (close the app or wait for the other command), then run `{doing}` again"
            ))
        };
        self.conn.busy_timeout(std::time::Duration::ZERO)?;
        // The mode changes commit nothing of the vault's: a replica's
        // guard must let them through (it would veto them silently).
        let alone = crate::replica::committing(|| {
            let mode: std::result::Result<String, _> =
                self.conn
                    .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0));
            matches!(&mode, Ok(m) if m.eq_ignore_ascii_case("delete"))
                && self
                    .conn
                    .pragma_update(None, "locking_mode", "EXCLUSIVE")
                    .is_ok()
                && self.conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;").is_ok()
        });
        self.conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let out = if alone { work(self) } else { Err(in_use()) };
        // Back to shared use: the lock is dropped at the next statement.
        let back = crate::replica::committing(|| {
            let _ = self.conn.pragma_update(None, "locking_mode", "NORMAL");
            self.conn
                .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        });
        let value = out?;
        back?;
        Ok(value)
    }

    /// Check a permission before long work done outside a transaction
    /// (streaming an import); a refusal is logged.
    pub(crate) fn require(&mut self, action: Action, object: &str) -> Result<()> {
        let r = self
            .check_live()
            .and_then(|_| permission::check(&self.ctx.actor.roles, action))
            .and_then(|_| self.check_restriction(action));
        match &r {
            Ok(()) => self.long_work = true,
            Err(e) => self.log_failure(action.event(), object, e),
        }
        r
    }

    /// The person is active in the window without calling an action
    /// (reading a document): their session is not idle. Written at most
    /// once a minute.
    pub fn touch(&mut self) -> Result<()> {
        if self
            .touched
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(60))
        {
            return Ok(());
        }
        self.catch_up()?;
        self.check_live()?;
        let tx = self.ctx.begin_write(&self.conn)?;
        tx.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1")?
            .execute(params![self.ctx.session, audit::now()])?;
        tx.commit()?;
        self.touched = Some(std::time::Instant::now());
        Ok(())
    }

    /// Record that `event` on `object` did not happen, and why. If even
    /// this cannot be written, the original error still stands.
    pub(crate) fn log_failure(&mut self, event: &str, object: &str, e: &Error) {
        // Long work that failed is over: idleness counts again.
        self.long_work = false;
        let outcome = audit::outcome_of(e);
        let ev = self
            .ctx
            .event(event, object, outcome, &failure_detail(event, e));
        // Its own immediate transaction: the sequence number is read and
        // written under the write lock, so a second process cannot race it.
        let _ = self.ctx.begin_write(&self.conn).and_then(|tx| {
            self.ctx.append(&tx, &ev)?;
            tx.commit()
        });
    }

    /// On a replica, bring the database to the server's head first, so
    /// that every check reads what the office wrote last.
    pub(crate) fn catch_up(&self) -> Result<()> {
        match &self.ctx.replica {
            Some(r) => r.catch_up(&self.conn),
            None => Ok(()),
        }
    }

    /// Is this session still the person's live one, and may they act now?
    /// A newer sign-in, a password change elsewhere, a suspension, a
    /// disabling or a reset ended it (its record says why); past the
    /// policy's idle time it ends here; and the account must be active and
    /// inside its allowed hours at every action, not only at sign-in (P7).
    pub(crate) fn check_live(&mut self) -> Result<()> {
        let row: Option<(Option<String>, Option<String>, String)> = self
            .conn
            .prepare_cached(
                "SELECT ended_at, ended_reason, last_seen_at FROM sessions WHERE id = ?1",
            )?
            .query_row([&self.ctx.session], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((ended, reason, last_seen)) = row else {
            return Err(Error::tampered(
                "this session's record is gone from the vault (deleted outside Kinko)",
            ));
        };
        if ended.is_some() {
            return Err(Error::NotSignedIn(format!(
                "this session has ended ({}); sign in again",
                reason.as_deref().unwrap_or("ended")
            )));
        }
        let policy = Policy::load(&self.conn)?;
        let limit = policy.number("session.idle_minutes");
        let idle = chrono::DateTime::parse_from_rfc3339(&last_seen)
            .map(|t| chrono::Utc::now().signed_duration_since(t))
            .map_err(|_| Error::tampered("a session record has an unreadable time"))?;
        if !self.long_work && idle > chrono::Duration::minutes(limit as i64) {
            self.end_record("idle")?;
            return Err(Error::NotSignedIn(format!(
                "this session ended after {limit} minutes without activity; sign in again"
            )));
        }
        may_act_now(&self.conn, &self.ctx, &policy)
    }

    /// Mark this session's record ended, with its event.
    fn end_record(&mut self, reason: &str) -> Result<()> {
        let object = format!("account:{}", self.ctx.actor.id);
        let tx = self.ctx.begin_write(&self.conn)?;
        tx.execute(
            "UPDATE sessions SET ended_at = ?2, ended_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
            params![self.ctx.session, audit::now(), reason],
        )?;
        let detail = match reason {
            "idle" => "idle timeout",
            "signed out" => "",
            other => other,
        };
        self.ctx.append(
            &tx,
            &self.ctx.event("session.end", &object, audit::OK, detail),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A restricted person (new or reset account, expired password, TOTP
    /// required but not enrolled) may only set their credentials (P5, P6).
    pub(crate) fn check_restriction(&self, action: Action) -> Result<()> {
        let allowed = action.while_restricted();
        match &self.ctx.actor.restriction {
            Some(why) if !allowed => Err(Error::NotSignedIn(why.clone())),
            _ => Ok(()),
        }
    }

    /// Look again at what the person must do first, after they changed
    /// their password or enrolled a second factor in this session (the
    /// app keeps one session open; the CLI opens one per command).
    pub(crate) fn refresh_restriction(&mut self) -> Result<()> {
        let policy = Policy::load(&self.conn)?;
        let standing = self.standing()?;
        let mut notices = standing.notices.clone();
        self.ctx.actor = standing.actor.clone();
        if self.ctx.cert_serial != standing.serial {
            self.ctx.cert_serial = standing.serial;
            self.ctx.keys_changed();
        }
        let token_bound = KeySlots::load(&self.ctx.keyslots_path())?
            .token_of(&self.ctx.actor.id)
            .is_some();
        let found = restriction(
            &self.conn,
            &self.ctx.actor,
            &policy,
            &mut notices,
            &standing,
            token_bound,
        )?;
        self.ctx.actor.pending = found.as_ref().map(|(p, _)| *p);
        self.ctx.actor.restriction = found.map(|(_, why)| why);
        self.notices = notices;
        Ok(())
    }

    /// The officer certified this person anew (new roles) while the
    /// session was open, which revoked the certificate it signs with:
    /// act from now on with what the new one says.
    pub(crate) fn follow_certificate(&mut self) -> Result<()> {
        match self.ctx.cert_serial {
            Some(serial)
                if crate::revocation::is_revoked(&self.conn, serial, &self.ctx.actor.id)? =>
            {
                self.refresh_restriction()
            }
            _ => Ok(()),
        }
    }

    /// Take new slot secrets (the person's own new keys) for the rest of
    /// this session.
    pub(crate) fn renew_secrets(&mut self, secrets: SlotSecrets) {
        // Every stored session of this person ended with the old keys
        // (`own_keys`), this one's too: it is no longer a token session.
        // What this terminal remembers was sealed with the old keys: keep it.
        let kept = self.ctx.remembered().ok().flatten();
        self.ctx.secrets = secrets;
        self.ctx.keys_changed();
        if let Some(id) = self.token_id.take() {
            if let Ok(path) = session_path(&self.ctx.dir, &id) {
                let _ = fsutil::remove_overwritten(&path);
            }
        }
        if let (Some(place), Some(memory)) = (&self.ctx.witness, kept) {
            let _ = place.save(&self.ctx.secrets.sign_secret, &memory);
        }
    }

    pub(crate) fn standing(&self) -> Result<Standing> {
        let c = &self.ctx;
        Standing::of(
            &self.conn,
            &c.vault_id,
            &c.root_public,
            &c.actor.id,
            &c.secrets,
        )
    }

    /// The fingerprint of this person's keys and of the root their keyslot
    /// trusts: what they show the officer, who compares it before
    /// certifying them (`account certify`).
    pub fn key_fingerprint(&self) -> Result<String> {
        // From the slot's own keys, which sign-in checked against the row:
        // nothing to read or verify again.
        let c = &self.ctx;
        let hpke = crate::crypto::HpkeKeyPair::public_of(&c.secrets.hpke_secret)?;
        let sign = crate::crypto::SigningKeyPair::public_of(&c.secrets.sign_secret)?;
        Ok(crate::cert::fingerprint(
            &c.vault_id,
            &c.actor.id,
            &hpke,
            &sign,
            &c.root_public,
        ))
    }

    /// The actions this person may take now (audit event names): their
    /// roles' actions, or only setting their credentials while restricted.
    pub fn allowed(&self) -> Vec<&'static str> {
        let roles = &self.ctx.actor.roles;
        Action::ALL
            .into_iter()
            .filter(|a| permission::check(roles, *a).is_ok() && self.check_restriction(*a).is_ok())
            .map(Action::event)
            .collect()
    }

    /// Things the person should be told (a password about to expire).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Let later commands resume this session with the returned token
    /// (`kinko login`): its keys are sealed into `sessions/<id>` under a
    /// fresh key that only the token holds. The sign-in already ended any
    /// earlier session of the same person: one session per person (P7),
    /// the newest wins.
    pub fn start_token(&mut self) -> Result<Zeroizing<String>> {
        let id = self.ctx.session.clone();
        let key = crypto::random_key();
        let file = token::seal_session_file(
            &key,
            &self.ctx.vault_id,
            &id,
            &self.ctx.secrets,
            &self.ctx.actor.id,
        );
        let path = session_path(&self.ctx.dir, &id)?;
        let object = format!("account:{}", self.ctx.actor.id);
        self.perform(Action::SessionStart, &object, |_, _| {
            fsutil::write_atomic(&path, &file)?;
            Ok(Done::ok((), format!("session={}", &id[..8])))
        })?;
        self.token_id = Some(id.clone());
        Ok(token::token(&id, &key))
    }

    /// End this session (`kinko logout`): its stored key material is
    /// overwritten and deleted. Without a stored session this only logs.
    pub fn end(self) -> Result<()> {
        self.finish("signed out")
    }

    /// End the session because it sat idle: the app locks, the keys leave
    /// memory, and signing in again starts a new session (P7).
    pub fn end_idle(self) -> Result<()> {
        self.finish("idle")
    }

    /// Whether this session works on an office server's vault (its
    /// writes, the end of the session too, then travel to the server).
    pub fn on_server(&self) -> bool {
        self.ctx.replica.is_some()
    }

    /// The policy's idle limit in minutes, for a shell that locks itself.
    pub fn idle_minutes(&self) -> Result<u64> {
        Ok(Policy::load(&self.conn)?.number("session.idle_minutes"))
    }

    fn finish(mut self, reason: &'static str) -> Result<()> {
        // Ending is always allowed, outside the allowed hours too: the
        // record ends and what is stored of the session goes.
        let open: bool = self
            .conn
            .query_row(
                "SELECT ended_at IS NULL FROM sessions WHERE id = ?1",
                [&self.ctx.session],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false);
        if open {
            self.end_record(reason)?;
        }
        if let Some(id) = self.token_id.take() {
            let _ = fsutil::remove_overwritten(&session_path(&self.ctx.dir, &id)?);
        }
        // Signed out here: the next sign-in must find at least this.
        if open {
            self.ctx.remember_seen(&self.conn)?;
        }
        Ok(())
    }
}

/// The path of a session file; the id is checked to be plain hex so a
/// token can never name a path outside `sessions/`.
fn session_path(dir: &std::path::Path, id: &str) -> Result<PathBuf> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::NotSignedIn("the session token is malformed".into()));
    }
    Ok(dir.join(SESSIONS_DIR).join(id))
}

/// Open the database with an unlocked slot's keys and make a session.
/// How the person proved who they are: a password (and maybe a one-time
/// code) now, or a session token from an earlier sign-in.
pub(crate) enum Proof<'a> {
    Password {
        password: &'a crate::account::Password,
        totp: Option<&'a str>,
        /// The token's part, when the slot needs one (`possession.rs`).
        factor: Option<crate::keyslots::Factor>,
    },
    Token(String),
}

pub(crate) fn open_signed_in(
    vault: &Vault,
    id: &str,
    secrets: SlotSecrets,
    terminal: &str,
    proof: Proof<'_>,
) -> Result<Session> {
    let dir = vault.dir().to_path_buf();
    let vault_id = vault.slots().vault_id.clone();
    // On an office server's vault, events also name the enrolled terminal.
    let terminal = &match &vault.replica {
        Some(r) => format!("{terminal} {}", r.upstream().terminal_id()),
        None => terminal.to_string(),
    };
    let (conn, mut secrets) = open_database(vault, id, secrets)?;
    check_keyslots_match(&conn, vault)?;
    let needs_upgrade = || {
        Error::NeedsUpgrade(
            "this vault was made by an earlier Kinko: its Information Management Officer upgrades it once (kinko upgrade, with the recovery code)".into(),
        )
    };
    let schema = db::schema_version(&conn)?;
    if schema == 2 {
        return Err(needs_upgrade());
    }
    if schema != 3 {
        db::check_schema(&conn)?;
        db::add_missing_indexes(&conn)?;
    }
    let facts = VaultFacts::read(&conn, &vault_id)?;
    let sealed_before_certificates = check_anchor(&conn, &facts, id, &secrets)?;
    if sealed_before_certificates {
        refuse_old_officer_slot(&conn, id)?;
    }
    // Schema 3 (certificates, nothing sealed yet): its certificates are
    // checked like any, then its officer seals it (`upgrade.rs`).
    if schema == 3 {
        return Err(needs_upgrade());
    }
    secrets.anchor = anchor(&facts);
    let standing = Standing::of(&conn, &vault_id, &facts.root_public, id, &secrets)?;
    let mut policy_seen = None;
    crate::policy::check_signed(&conn, &vault_id, &facts.root_public, &mut policy_seen)?;
    let mut actor = standing.actor.clone();
    let policy = Policy::load(&conn)?;
    let mut notices = standing.notices.clone();
    let token_bound = vault.slots().token_of(id).is_some();
    if let Some((pending, why)) =
        restriction(&conn, &actor, &policy, &mut notices, &standing, token_bound)?
    {
        actor.pending = Some(pending);
        actor.restriction = Some(why);
    }
    let ctx = Ctx {
        actor,
        terminal: terminal.to_string(),
        vault_id,
        dir,
        secrets,
        root_public: facts.root_public,
        custodian_public: facts.custodian_public,
        cert_serial: standing.serial,
        witness: vault
            .witness_dir
            .as_deref()
            .map(|d| crate::witness::Place::new(d, vault.dir(), &vault.slots().vault_id, id)),
        session: match &proof {
            Proof::Token(token_id) => token_id.clone(),
            Proof::Password { .. } => crypto::hex(&crypto::random::<16>()),
        },
        events: Default::default(),
        factor: match &proof {
            Proof::Password { factor, .. } => factor.clone(),
            Proof::Token(_) => None,
        },
        replica: vault.replica.clone(),
    };
    // The trail must still hold what this person saw last on this
    // terminal: a vault put back to an earlier copy is tampering.
    let memory = ctx.remembered()?;
    let against = crate::witness::check(&conn, &ctx.root_public, memory.as_ref());
    if let Ok(crate::witness::Against::Restored { seq, by, at }) = &against {
        notices.push(format!(
            "the vault was restored from a backup by {by} at {at} (audit event {seq}): what you saw here after that backup is not in it"
        ));
    }
    // A slot sealed before schema 3 is sealed again now, with the anchor
    // that names the root, while the password is at hand.
    let reseal = match (&proof, sealed_before_certificates) {
        (Proof::Password { password, .. }, true) => Some(reanchored_slots(&ctx, password)?),
        _ => None,
    };
    // Sign-in events, with the inbox moved into the chain first so the
    // order of the trail is the order things happened.
    let inbox_secret: Zeroizing<[u8; 32]> = meta_key(&conn, "inbox_secret")?;
    let tx = ctx.begin_write(&conn)?;
    let done = audit::ingest_inbox(
        &tx,
        &ctx.dir.join(INBOX_DIR),
        &inbox_secret,
        terminal,
        ctx.event_signer()?,
    );
    let object = format!("account:{id}");
    let refusal = against.and_then(|_| admission(&tx, &ctx, &policy, &proof));
    let done = match (done, refusal) {
        (Ok(done), Ok(())) => done,
        (Err(e), Ok(())) => return Err(e),
        (done, Err(e)) => {
            // Recorded if the trail can take it; if it cannot (its last
            // event in this person's name is not theirs), what they are
            // told is still the first fault found.
            let outcome = audit::outcome_of(&e);
            let recorded = done.and_then(|done| {
                ctx.append(
                    &tx,
                    &ctx.event("session.signin", &object, outcome, &e.to_string()),
                )?;
                tx.commit()?;
                Ok(done)
            });
            if let Ok(done) = recorded {
                remove_all(&done);
            }
            return Err(e);
        }
    };
    if matches!(proof, Proof::Password { .. }) {
        // One live session per person: this sign-in ends any other, in
        // the app, a token or another command, at its next action.
        let replaced =
            crate::account::end_sessions(&tx, &ctx.dir, id, "replaced by a newer sign-in", None)?;
        tx.execute(
            "INSERT INTO sessions (id, account, started_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
            params![ctx.session, id, audit::now()],
        )?;
        let mut detail = ctx.actor.restriction.clone().unwrap_or_default();
        if replaced > 0 {
            detail = with_note(&detail, &format!("{replaced} earlier sessions ended"));
        }
        ctx.append(
            &tx,
            &ctx.event("session.signin", &object, audit::OK, &detail),
        )?;
    }
    match &reseal {
        Some(slots) => tx.commit_with_keyslots(&ctx.keyslots_path(), slots)?,
        None => tx.commit()?,
    }
    remove_all(&done);
    if let Err(e) = ctx.remember_seen(&conn) {
        notices.push(format!(
            "this terminal could not remember the audit trail you saw ({e}), so a vault put back to an earlier copy would not be noticed at your next sign-in here"
        ));
    }
    let token_id = match proof {
        Proof::Token(id) => Some(id),
        Proof::Password { .. } => None,
    };
    let mut session = Session {
        conn,
        ctx,
        token_id,
        notices,
        policy_seen,
        long_work: false,
        touched: None,
        approved: None,
    };
    session.give_owed_key();
    Ok(session)
}

impl Session {
    /// A disabling whose new database key was never given (its run
    /// stopped, or the server refused the snapshot, after the disabling
    /// committed) is finished at the next sign-in of someone who may
    /// manage accounts; the person is told either way.
    fn give_owed_key(&mut self) {
        if !self.ctx.actor.roles.allow(Action::AccountManage) {
            return;
        }
        let Ok(Some(owed)) = crate::rekey::owed_database_key(&self.conn) else {
            return;
        };
        // Only a disabled account's key is owed: a row naming anything
        // else was not written by a disabling.
        let disabled: Option<String> = self
            .conn
            .query_row("SELECT status FROM accounts WHERE id = ?1", [&owed], |r| {
                r.get(0)
            })
            .optional()
            .ok()
            .flatten();
        if disabled.as_deref() != Some("disabled") {
            return;
        }
        let given = self.with_vault_alone("the sign-in", |s| s.new_database_key(&owed));
        self.notices.push(match given {
            Ok(()) => format!(
                "the new database key owed since account {owed} was disabled was given now"
            ),
            Err(e) => format!(
                "the vault still owes a new database key since account {owed} was disabled ({e}); the next sign-in of someone who may manage accounts gives it"
            ),
        });
    }
}

/// Open the database with the newest key this account holds: the one a
/// `rekey` left for it, else its slot's. A `rekey` stopped between writing
/// the new keys and re-keying the database leaves the slot's key in force,
/// so both are tried, newest first.
pub(crate) fn open_database(
    vault: &Vault,
    id: &str,
    mut secrets: SlotSecrets,
) -> Result<(Connection, SlotSecrets)> {
    let path = vault.dir().join(DB_FILE);
    if let Some(replica) = &vault.replica {
        // A replica: made from the log (from its newest snapshot, under
        // the key it was sealed with), then brought to the head.
        let mut keys = vault.slots().pending_db_keys(id, &secrets)?;
        keys.push(Zeroizing::new(secrets.db_key));
        // What this person saw last here: a snapshot that does not hold
        // it is refused before the replica is replaced.
        let seen = match &vault.witness_dir {
            Some(d) => crate::witness::Place::new(d, vault.dir(), &vault.slots().vault_id, id)
                .load(&secrets.sign_secret)?
                .map(|m| m.seen),
            None => None,
        };
        let (conn, key) = replica.open_database(&path, &keys, seen.as_ref())?;
        secrets.db_key = key;
        replica.open_caught_up(&conn)?;
        return Ok((conn, secrets));
    }
    for newer in vault.slots().pending_db_keys(id, &secrets)? {
        if let Ok(conn) = db::open(&path, &newer) {
            secrets.db_key = *newer;
            return Ok((conn, secrets));
        }
    }
    let conn = db::open(&path, &secrets.db_key)?;
    Ok((conn, secrets))
}

/// May this person be in now? Account status, the one-time code (for a
/// password sign-in), and the allowed hours.
fn admission(tx: &Transaction, ctx: &Ctx, policy: &Policy, proof: &Proof<'_>) -> Result<()> {
    may_act_now(tx, ctx, policy)?;
    if let Proof::Password { totp, .. } = proof {
        crate::credentials::check_totp(tx, &crate::credentials::TotpOwner::of(ctx), *totp)
            .map_err(|e| match e {
                Error::NotSignedIn(m) => Error::BadCode(m),
                other => other,
            })?;
    }
    Ok(())
}

/// The account is active and this is inside its allowed hours: checked
/// at sign-in and again at every action.
fn may_act_now(conn: &Connection, ctx: &Ctx, policy: &Policy) -> Result<()> {
    let id = &ctx.actor.id;
    let (status, hours): (String, Option<String>) = conn
        .prepare_cached("SELECT status, hours FROM accounts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if status != "active" {
        return Err(Error::NotSignedIn(format!("the account {id} is {status}")));
    }
    let own = hours.map(|h| Hours::parse(&h)).transpose()?;
    let now = chrono::Utc::now().with_timezone(&crate::time::japan());
    crate::policy::check_hours(policy, &ctx.actor.roles, own, now)
}

/// `detail` with `note` added after a semicolon.
pub(crate) fn with_note(detail: &str, note: &str) -> String {
    if detail.is_empty() {
        note.to_string()
    } else {
        format!("{detail}; {note}")
    }
}

/// What a failed action's event says. A failed receipt or export names
/// files, whose names are often personal data ("山田太郎様 離職票.pdf"),
/// and the trail is read by every auditor and kept a year: for those, a
/// problem with the file or the input is recorded by its kind only.
fn failure_detail(event: &str, e: &Error) -> String {
    let names_files = [Action::DocumentImport, Action::DocumentOpen]
        .iter()
        .any(|a| a.event() == event);
    match e {
        Error::Io { .. }
        | Error::SourceChanged(_)
        | Error::Invalid(_)
        | Error::Field { .. }
        | Error::NotFound(_)
        | Error::Unsupported(_)
        | Error::Cancelled(_)
            if names_files =>
        {
            format!(
                "{} (file names are not recorded): {}",
                e.code(),
                e.lead().en
            )
        }
        e => e.to_string(),
    }
}

/// Why a signed-in person may only set their credentials, if they may.
fn restriction(
    conn: &Connection,
    actor: &Actor,
    policy: &Policy,
    notices: &mut Vec<String>,
    standing: &Standing,
    token_bound: bool,
) -> Result<Option<(Pending, String)>> {
    let (must_change, changed_at, totp_on): (bool, String, bool) = conn.query_row(
        "SELECT must_change_password, password_changed_at, totp_enabled FROM accounts WHERE id = ?1",
        [&actor.id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if must_change {
        return Ok(Some((
            Pending::ChangePassword,
            "you must change your initial password first (kinko passwd)".into(),
        )));
    }
    if !standing.certified && !standing.requested {
        // Keys nobody asked the officer to certify: made under a password
        // someone else set (an initial one, or before certificates).
        return Ok(Some((
            Pending::ChangePassword,
            "choose a new password first (kinko passwd): Kinko then makes your own keys for the officer to certify".into(),
        )));
    }
    let changed_at = chrono::DateTime::parse_from_rfc3339(&changed_at)
        .map_err(|_| Error::tampered("an account record has an unreadable time"))?
        .with_timezone(&chrono::Utc);
    match crate::credentials::password_age(
        changed_at,
        chrono::Utc::now(),
        policy.number("password.max_age_days"),
        policy.number("password.warn_days"),
    ) {
        PasswordAge::Expired => {
            return Ok(Some((
                Pending::ChangePassword,
                "your password has expired; change it (kinko passwd)".into(),
            )))
        }
        PasswordAge::ExpiresSoon { days } => notices.push(format!(
            "your password expires in {days} days; change it soon (kinko passwd)"
        )),
        PasswordAge::Fine => {}
    }
    if policy.flag("totp.required") && !totp_on {
        return Ok(Some((
            Pending::EnrolTotp,
            "the vault requires a one-time code: enrol first (kinko totp enroll, then kinko totp confirm CODE)".into(),
        )));
    }
    if policy.flag("token.required") && !token_bound {
        return Ok(Some((
            Pending::EnrolToken,
            "the vault requires a token (IC card, HSM) as well as the password: bind yours first (kinko token enrol)".into(),
        )));
    }
    if !standing.certified {
        return Ok(Some((
            Pending::Certification,
            format!(
                "the officer has not certified your keys yet: show the officer your key fingerprint {} (kinko status shows it)",
                standing.fingerprint
            ),
        )));
    }
    Ok(None)
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// The public keys in the keyslots file must be the ones the database
/// recorded at creation: a swapped key would let an attacker read future
/// inbox events or recovery wraps.
pub(crate) fn check_keyslots_match(conn: &Connection, vault: &Vault) -> Result<()> {
    let slots = vault.slots();
    let inbox: Vec<u8> = meta(conn, "inbox_public")?;
    let custodian: Vec<u8> = meta(conn, "custodian_public")?;
    let vid: Vec<u8> = meta(conn, "vault_id")?;
    if inbox != slots.inbox_public()?
        || custodian != slots.custodian_public()?
        || vid != slots.vault_id.as_bytes()
    {
        return Err(Error::tampered(
            "the keyslots file does not belong to this vault's database",
        ));
    }
    Ok(())
}

/// The anchor sealed in the slot must match what the database says now.
/// Anyone holding the database key can write the database, but only the
/// slot's owner can write the slot: a swapped custodian, inbox, audit or
/// root key is tampering. Returns whether the slot was sealed before
/// schema 3 (its anchor then covers the account record instead of the
/// root, and is checked as such).
fn check_anchor(
    conn: &Connection,
    facts: &VaultFacts,
    id: &str,
    secrets: &SlotSecrets,
) -> Result<bool> {
    if secrets.anchor == anchor(facts) {
        return Ok(false);
    }
    let (roles, hpke_public, sign_public): (String, Vec<u8>, Vec<u8>) = conn.query_row(
        "SELECT roles, hpke_public, sign_public FROM accounts WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let before = anchor_v2(
        facts,
        &AccountFacts {
            account: id,
            roles: &roles,
            hpke_public: &hpke_public,
            sign_public: &sign_public,
        },
    );
    if before == secrets.anchor {
        return Ok(true);
    }
    Err(Error::tampered(
        "the vault's keys or your account record were changed outside Kinko",
    ))
}

/// The upgrade seals the officer's slot again with the anchor that names
/// the root, so an officer's slot from before certificates in a schema-3
/// vault means someone else made schema 3 (and its root) by hand.
fn refuse_old_officer_slot(conn: &Connection, id: &str) -> Result<()> {
    let roles: String = conn.query_row("SELECT roles FROM accounts WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    if Roles::parse(&roles)?.has(crate::permission::Role::Officer) {
        return Err(Error::tampered(
            "the vault's certificates and root key were not made by its officer's upgrade (made outside Kinko)",
        ));
    }
    Ok(())
}

/// The keyslots with this person's slot sealed again under `password`
/// (same keys, the current anchor).
pub(crate) fn reanchored_slots(ctx: &Ctx, password: &crate::account::Password) -> Result<KeySlots> {
    let mut slots = KeySlots::load(&ctx.keyslots_path())?;
    let kdf = slots
        .slot(&ctx.actor.id)
        .map(|s| s.kdf.clone())
        .ok_or_else(|| Error::tampered("your keyslot is missing"))?;
    slots.set(
        &ctx.actor.id,
        password.as_bytes(),
        crate::crypto::kdf::KdfParams::new(kdf.profile()),
        &ctx.secrets,
        ctx.factor.as_ref(),
    )?;
    Ok(slots)
}

/// Who a signed-in person is, as their certificate says, and whether the
/// officer has certified the keys their slot holds.
#[derive(Clone)]
pub(crate) struct Standing {
    pub actor: Actor,
    pub certified: bool,
    /// The certificate they act under, when certified.
    pub serial: Option<i64>,
    /// Whether the row carries this person's own request for the keys
    /// their slot holds (made at a password change of their own).
    pub requested: bool,
    /// Of the keys this person's slot holds and the root it trusts.
    pub fingerprint: String,
    pub notices: Vec<String>,
}

impl Standing {
    /// The account row must name the keys the slot holds (only the slot's
    /// owner puts keys there); the roles and name a person acts with are
    /// their certificate's; without one for these keys they are the row's,
    /// and the person is restricted until the officer certifies them.
    pub fn of(
        conn: &Connection,
        vault_id: &str,
        root: &[u8],
        id: &str,
        secrets: &SlotSecrets,
    ) -> Result<Self> {
        type Row = (String, String, Vec<u8>, Vec<u8>, Option<Vec<u8>>);
        let row: Option<Row> = conn
            .query_row(
                "SELECT name, roles, hpke_public, sign_public, key_request FROM accounts WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let (name, roles, row_hpke, row_sign, request) =
            row.ok_or_else(|| Error::tampered(format!("keyslot for {id} has no account")))?;
        let hpke = crate::crypto::HpkeKeyPair::public_of(&secrets.hpke_secret)?;
        let sign = crate::crypto::SigningKeyPair::public_of(&secrets.sign_secret)?;
        if row_hpke != hpke || row_sign != sign {
            return Err(Error::tampered(format!(
                "the account record of {id} names other public keys than the ones your keyslot holds (changed outside Kinko)"
            )));
        }
        let fingerprint = crate::cert::fingerprint(vault_id, id, &hpke, &sign, root);
        let requested = request
            .is_some_and(|sig| crate::cert::request_holds(vault_id, id, &hpke, &sign, root, &sig));
        let cert =
            crate::cert::current(conn, vault_id, root, id)?.filter(|c| c.names_keys(&hpke, &sign));
        let mut notices = Vec::new();
        let serial = cert.as_ref().map(|c| c.body.serial);
        let (name, roles, certified) = match cert {
            Some(c) => {
                if c.body.roles != roles || c.body.name != name {
                    notices.push(format!(
                        "a change of your account ({name}, {roles}) awaits the officer's certification; until then you act as {} ({})",
                        c.body.name, c.body.roles
                    ));
                }
                (c.body.name.clone(), c.roles, true)
            }
            None => (name, Roles::parse(&roles)?, false),
        };
        Ok(Standing {
            actor: Actor {
                id: id.to_string(),
                name,
                roles,
                restriction: None,
                pending: None,
            },
            certified,
            serial,
            requested,
            fingerprint,
            notices,
        })
    }
}

/// Resume a stored session from its token.
pub(crate) fn resume(vault: &Vault, token: &str, terminal: &str) -> Result<Session> {
    let (id, key) = parse_token(token)?;
    let id = id.as_str();
    let path = session_path(vault.dir(), id)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        // Its key material is destroyed when it ends, so why is not told
        // here (the trail says).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotSignedIn(
                "the session has ended (signed out, replaced by a newer sign-in, idle, or the account changed); sign in again with kinko login".into(),
            ))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    let (secrets, account) = open_session_file(&bytes, &key, &vault.slots().vault_id, id)?;
    let mut session = open_signed_in(
        vault,
        &account,
        secrets,
        terminal,
        Proof::Token(id.to_string()),
    )?;
    // Ended meanwhile (idle, replaced, the account changed): the same
    // check every action makes, and what is stored of it goes.
    if let Err(e) = session.check_live() {
        if matches!(e, Error::NotSignedIn(_)) {
            let _ = fsutil::remove_overwritten(&path);
        }
        return Err(e);
    }
    Ok(session)
}
