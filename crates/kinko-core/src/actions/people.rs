//! People: accounts (added, suspended, reset, recovered), the handler and
//! worker rosters with the officer's approvals, and the vault's policy.

use crate::account::{validate_id, validate_text, *};
use crate::audit;
use crate::credentials::{record_history, HistoryOwner};
use crate::crypto::{self};
use crate::error::{Error, Result};
use crate::keyslots::KeySlots;
use crate::permission::{Action, Role, Roles};
use crate::policy::{Hours, Policy, *};
use crate::replica::{ApprovedTerminal, DeviceApproval};
use crate::roster::*;
use crate::session::{Done, Session};
use rusqlite::{params, OptionalExtension};

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
            let issued = issue_credentials(ctx, id)?;
            let now = audit::now();
            tx.execute(
                "INSERT INTO accounts (id, name, roles, hpke_public, sign_public, must_change_password, password_changed_at, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)",
                params![id, name, roles.to_text(), issued.hpke_public, issued.sign_public, now, ctx.actor.id],
            )?;
            let (password, slots) = (issued.password, issued.slots);
            let owner = HistoryOwner { vault_id: &ctx.vault_id, account: id, public: &issued.hpke_public };
            record_history(tx, &owner, &password)?;
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

    /// Every account, for the people who run accounts, with where it
    /// stands with the officer.
    pub fn list_accounts(&mut self) -> Result<Vec<AccountInfo>> {
        self.perform(Action::AccountList, "accounts", |tx, ctx| {
            let ids: Vec<String> = tx
                .prepare("SELECT id FROM accounts ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let rows = ids
                .iter()
                .map(|id| account_info(tx, ctx, id))
                .collect::<Result<Vec<_>>>()?;
            Ok(Done::ok(rows, ""))
        })
    }

    /// Vouch for an account (the officer): its person, the roles the
    /// people who run accounts gave it, and the keys the person made at
    /// their first sign-in, compared by `fingerprint` with what the
    /// person's own screen shows. Until then nothing is wrapped to its
    /// keys and it may only set its credentials.
    pub fn certify_account(&mut self, id: &str, fingerprint: Option<&str>) -> Result<Certified> {
        let object = format!("account:{id}");
        self.perform(Action::AccountCertify, &object, |tx, ctx| {
            validate_id(id)?;
            if id == ctx.actor.id {
                return Err(Error::invalid("nobody certifies their own account"));
            }
            let info = account_info(tx, ctx, id)?;
            if info.status != "active" {
                return Err(Error::invalid(format!("account {id} is {}", info.status)));
            }
            let key = match info.certification {
                Certification::Certified => {
                    return Err(Error::invalid(format!("{id} is already certified as the account stands")))
                }
                Certification::AwaitingPerson => {
                    return Err(Error::denied(format!(
                        "{id} must first sign in and set their own password: Kinko then makes their keys, and their screen shows the fingerprint to compare"
                    )))
                }
                Certification::AwaitingOfficer => candidate_keys(tx, ctx, id)?,
            };
            // No command changes roles: the ones to vouch for are the ones
            // the account was added with, whatever its row says now. The
            // officer is certified by the root key only.
            match added_with_roles(tx, id)? {
                Some(added) if added != info.roles => {
                    return Err(Error::tampered(format!(
                        "the roles on {id}'s account record ({}) are not the ones it was added with ({added}): changed outside Kinko",
                        info.roles
                    )))
                }
                _ => {}
            }
            if Roles::parse(&info.roles)?.has(Role::Officer) {
                return Err(Error::denied(
                    "the officer's account is certified by the vault's root key, not by another officer",
                ));
            }
            let shown = info.fingerprint.clone().unwrap_or_default();
            if let Some(given) = fingerprint {
                if normalise_fingerprint(given) != normalise_fingerprint(&shown) {
                    return Err(Error::field(
                        "fingerprint",
                        format!(
                            "the fingerprint given is not the one of {id}'s keys ({shown}): do not certify; ask the system administrator to reset the account"
                        ),
                    ));
                }
            }
            let own = crate::cert::current(tx, &ctx.vault_id, &ctx.root_public, &ctx.actor.id)?
                .ok_or_else(|| Error::tampered("your own certificate is missing"))?;
            // The new certificate ends the old one; what that one signed
            // before stays valid.
            let revoked = crate::revocation::revoke_account(tx, id)?;
            let serial = crate::cert::issue(
                tx,
                &ctx.vault_id,
                &crate::cert::Issuer {
                    name: &ctx.actor.id,
                    serial: Some(own.body.serial),
                    secret: &ctx.secrets.sign_secret,
                },
                &crate::cert::Subject {
                    account: id,
                    name: &info.name,
                    roles: &info.roles,
                    hpke_public: &key.0,
                    sign_public: &key.1,
                },
            )?;
            // Rosters and labels sealed to circles its roles belong to.
            crate::circle::admit(tx, ctx, id, &Roles::parse(&info.roles)?, &key.0)?;
            let compared = if fingerprint.is_some() { "compared" } else { "not compared" };
            Ok(Done::ok(
                Certified {
                    account: id.to_string(),
                    serial,
                    name: info.name.clone(),
                    roles: info.roles.clone(),
                    fingerprint: shown.clone(),
                },
                with_revoked(
                    format!("serial={serial} roles={} fingerprint={shown} ({compared})", info.roles),
                    &revoked,
                ),
            ))
        })
    }
}

/// One account as listed, with its certification.
fn account_info(
    tx: &rusqlite::Transaction,
    ctx: &crate::actor::Ctx,
    id: &str,
) -> Result<AccountInfo> {
    let (name, roles, status, must_change, created_at, hpke, sign): (String, String, String, bool, String, Vec<u8>, Vec<u8>) =
        tx.query_row(
            "SELECT name, roles, status, must_change_password, created_at, hpke_public, sign_public FROM accounts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("account {id}")))?;
    let cert = crate::cert::current(tx, &ctx.vault_id, &ctx.root_public, id)?;
    let as_certified = cert.as_ref().is_some_and(|c| {
        c.names_keys(&hpke, &sign) && c.body.roles == roles && c.body.name == name
    });
    let certification = if as_certified {
        Certification::Certified
    } else if must_change {
        Certification::AwaitingPerson
    } else {
        Certification::AwaitingOfficer
    };
    let fingerprint = (certification == Certification::AwaitingOfficer)
        .then(|| crate::cert::fingerprint(&ctx.vault_id, id, &hpke, &sign, &ctx.root_public));
    Ok(AccountInfo {
        id: id.to_string(),
        name,
        roles,
        status,
        must_change_password: must_change,
        created_at,
        certification,
        fingerprint,
    })
}

/// The keys to certify: the ones already certified (only a change of
/// name or roles), or new ones with the person's own request, signed by
/// their new key over the root this vault's officer trusts.
fn candidate_keys(
    tx: &rusqlite::Transaction,
    ctx: &crate::actor::Ctx,
    id: &str,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let (hpke, sign, request): (Vec<u8>, Vec<u8>, Option<Vec<u8>>) = tx.query_row(
        "SELECT hpke_public, sign_public, key_request FROM accounts WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let certified = crate::cert::current(tx, &ctx.vault_id, &ctx.root_public, id)?
        .is_some_and(|c| c.names_keys(&hpke, &sign));
    if certified {
        return Ok((hpke, sign));
    }
    let holds = request.is_some_and(|sig| {
        crate::cert::request_holds(&ctx.vault_id, id, &hpke, &sign, &ctx.root_public, &sig)
    });
    if !holds {
        return Err(Error::tampered(format!(
            "the keys on {id}'s account record carry no request signed by {id}'s own new key over this vault's root (changed outside Kinko, or their keyslot trusts another root)"
        )));
    }
    Ok((hpke, sign))
}

/// An event's detail with the certificates its action revoked.
fn with_revoked(detail: String, revoked: &str) -> String {
    if revoked.is_empty() {
        detail
    } else {
        format!("{detail}; {revoked}")
    }
}

fn normalise_fingerprint(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Session {
    /// Suspend, resume, disable or unlock an account. Disabling also
    /// gives the database a new key at once, wrapped to everyone else: a
    /// copy of the person's slot kept from before holds the old one, which
    /// then opens nothing current. So it needs the vault to itself.
    pub fn account_lifecycle(&mut self, id: &str, what: Lifecycle) -> Result<()> {
        if what != Lifecycle::Disable {
            return self.change_lifecycle(id, what);
        }
        self.with_vault_alone("kinko account disable", |s| {
            s.change_lifecycle(id, what)?;
            s.new_database_key(id)
        })
    }

    fn change_lifecycle(&mut self, id: &str, what: Lifecycle) -> Result<()> {
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
                    end_sessions(tx, &ctx.dir, id, "account suspended", None)?;
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
                    crate::circle::leave_all(tx, id)?;
                    end_sessions(tx, &ctx.dir, id, "account disabled", None)?;
                    let mut slots = KeySlots::load(&ctx.keyslots_path())?;
                    let name = slots.slot_name(id);
                    slots.slots.remove(&name);
                    slots.db_keys.remove(&name);
                    done.keyslots = Some(slots);
                    let revoked = crate::revocation::revoke_account(tx, id)?;
                    // Owed until the new database key is in place: a run
                    // stopped before that is finished at the next sign-in
                    // of someone who may manage accounts.
                    crate::rekey::owe_database_key(tx, id)?;
                    done.detail = with_revoked(
                        format!("disable; {grants} grants destroyed; the database gets a new key"),
                        &revoked,
                    );
                }
                Lifecycle::Unlock => {
                    let mut held = crate::lockout::SigninState::hold(&ctx.dir, None)?;
                    let name = KeySlots::load(&ctx.keyslots_path())?.slot_name(id);
                    if !held.state.unlock(&name, chrono::Utc::now()) {
                        return Err(Error::invalid(format!("account {id} is not locked")));
                    }
                    held.save()?;
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
            let issued = issue_credentials(ctx, id)?;
            let held = crate::document::set_aside_wraps(tx, id)?;
            crate::circle::leave_all(tx, id)?;
            let revoked = crate::revocation::revoke_account(tx, id)?;
            tx.execute(
                "UPDATE accounts SET hpke_public = ?2, sign_public = ?3, key_request = NULL, must_change_password = 1, password_changed_at = ?4,
                 totp_secret = NULL, totp_enabled = 0, totp_last_step = 0 WHERE id = ?1",
                params![id, issued.hpke_public, issued.sign_public, audit::now()],
            )?;
            end_sessions(tx, &ctx.dir, id, "account reset", None)?;
            // The history was sealed to the keys the reset replaced: it
            // opens for nobody now, so it starts afresh.
            tx.execute("DELETE FROM password_history WHERE account = ?1", [id])?;
            let owner = HistoryOwner { vault_id: &ctx.vault_id, account: id, public: &issued.hpke_public };
            let (password, slots) = (issued.password, issued.slots);
            record_history(tx, &owner, &password)?;
            let mut lockout = crate::lockout::SigninState::hold(&ctx.dir, None)?;
            lockout.state.unlock(&slots.slot_name(id), chrono::Utc::now());
            lockout.save()?;
            let mut done = Done::ok(
                NewAccount { id: id.to_string(), initial_password: password },
                with_revoked(format!("reset; {held} documents await recovery"), &revoked),
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
            if public != ctx.custodian_public {
                return Err(Error::denied(
                    "that recovery code does not belong to this vault",
                ));
            }
            let status: String = tx
                .query_row("SELECT status FROM accounts WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
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
            crate::roster::check_may_receive(tx, ctx, id)?;
            let docs = crate::document::checked_set_aside(tx, ctx, id)?;
            for doc_id in &docs {
                let doc = crate::document::load_doc(tx, *doc_id)?;
                let dek = crate::document::custodian_dek(tx, &ctx.vault_id, &doc, &custodian)?;
                crate::document::store_wrap(
                    tx,
                    ctx,
                    *doc_id,
                    &doc.uid,
                    id,
                    &dek,
                    crate::grant::Right::Recover,
                )?;
            }
            tx.execute("DELETE FROM regrant_pending WHERE account = ?1", [id])?;
            let n = docs.len();
            Ok(Done::ok(n, format!("{n} documents re-granted")))
        })
    }
}

impl Session {
    /// Approve a terminal waiting to be enrolled with the office server,
    /// by the code its screen shows. The server says what waits under the
    /// code; the signed event names that terminal's key, and the approval
    /// rides on the append of the event's unit: the server approves, in
    /// the same transaction, only the request with that key. `audit
    /// verify` matches every terminal a unit approved with such an event
    /// (`terminal_approval.rs`).
    pub fn approve_device(&mut self, code: &str) -> Result<ApprovedTerminal> {
        // Checked before anything is recorded or asked.
        let code = crate::terminal_approval::checked_code(code)?;
        let object = format!("device:{code}");
        self.approved = None;
        self.perform(Action::DeviceApprove, &object, |_, ctx| {
            let Some(replica) = &ctx.replica else {
                return Err(Error::Unsupported(
                    "approving a terminal needs a vault held by an office server".into(),
                ));
            };
            let waiting = crate::terminal_approval::checked_waiting(
                &code,
                replica.upstream().waiting(&code)?,
            )?;
            let mut done = Done::ok((), crate::terminal_approval::detail(&waiting));
            done.object = Some(crate::terminal_approval::object(&waiting.key));
            done.approve_device = Some(DeviceApproval {
                code: code.clone(),
                key: waiting.key,
            });
            Ok(done)
        })?;
        self.approved
            .take()
            .ok_or_else(|| Error::tampered("the server approved no terminal"))
    }

    /// Ask for someone to be added to a roster (or their entry changed).
    pub fn roster_request_add(
        &mut self,
        roster: Roster,
        person: &str,
        fields: &RosterFields,
    ) -> Result<i64> {
        let object = format!("roster:{}:{person}", roster.as_str());
        self.perform(Action::RosterRequest, &object, |tx, ctx| {
            validate_id(person)?;
            fields.check(roster)?;
            if roster == Roster::Handler {
                let roles: String = tx
                    .query_row("SELECT roles FROM accounts WHERE id = ?1 AND status != 'disabled'", [person], |r| {
                        r.get(0)
                    })
                    .optional()?
                    .ok_or_else(|| Error::NotFound(format!("account {person} (the handler roster lists account holders)")))?;
                if !Roles::parse(&roles)?.reads_documents() {
                    return Err(Error::denied(format!(
                        "{person} ({roles}) may never handle documents, so cannot be on the handler roster"
                    )));
                }
            }
            let circle = crate::circle::public(tx, ctx, crate::circle::Circle::Roster)?;
            tx.execute(
                "INSERT INTO roster_requests (roster, change, person, requested_by, requested_at, state)
                 VALUES (?1, 'add', ?2, ?3, ?4, 'pending')",
                params![roster.as_str(), person, ctx.actor.id, audit::now()],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE roster_requests SET fields = ?2 WHERE id = ?1",
                params![id, crate::roster::seal_fields(&circle, "request", id, fields)?],
            )?;
            crate::roster::sign_request(tx, &ctx.signer()?, id)?;
            Ok(Done::ok(id, format!("request={id} add")))
        })
    }

    /// Ask for someone to be removed. From the handler roster, their access
    /// to every document ends now: their key wraps are destroyed.
    pub fn roster_request_remove(&mut self, roster: Roster, person: &str) -> Result<i64> {
        let object = format!("roster:{}:{person}", roster.as_str());
        self.perform(Action::RosterRequest, &object, |tx, ctx| {
            validate_id(person)?;
            let on: Option<i64> = tx
                .query_row(
                    "SELECT id FROM roster_entries WHERE roster = ?1 AND person = ?2 AND ended_at IS NULL",
                    params![roster.as_str(), person],
                    |r| r.get(0),
                )
                .optional()?;
            on.ok_or_else(|| Error::NotFound(format!("{person} on the {}", roster.title_ja())))?;
            let revoked = if roster == Roster::Handler {
                tx.execute("DELETE FROM regrant_pending WHERE account = ?1", [person])?;
                tx.execute("DELETE FROM wraps WHERE holder = ?1", [person])?
            } else {
                0
            };
            tx.execute(
                "INSERT INTO roster_requests (roster, change, person, requested_by, requested_at, state)
                 VALUES (?1, 'remove', ?2, ?3, ?4, 'pending')",
                params![roster.as_str(), person, ctx.actor.id, audit::now()],
            )?;
            let id = tx.last_insert_rowid();
            crate::roster::sign_request(tx, &ctx.signer()?, id)?;
            Ok(Done::ok(id, format!("request={id} remove; {revoked} grants ended at once")))
        })
    }

    /// Record the bureau's approval of a request (officer): only now does
    /// it take effect.
    pub fn roster_approve(&mut self, request: i64, reference: &str, date: &str) -> Result<()> {
        let object = format!("roster-request:{request}");
        self.perform(Action::RosterApprove, &object, |tx, ctx| {
            validate_text("reference", reference, 200)?;
            let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| Error::field("date", format!("the approval date '{date}' is not a date like 2026-04-01")))?;
            type Row = (String, String, String, Option<Vec<u8>>, String);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT roster, change, person, fields, state FROM roster_requests WHERE id = ?1",
                    [request],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let (roster, change, person, fields, state) =
                row.ok_or_else(|| Error::NotFound(format!("roster request {request}")))?;
            if state != "pending" {
                return Err(Error::invalid(format!("roster request {request} is already {state}")));
            }
            crate::roster::check_request(tx, ctx, request)?;
            if change == "add" && roster == "handler" {
                let status: Option<String> =
                    tx.query_row("SELECT status FROM accounts WHERE id = ?1", [&person], |r| r.get(0)).optional()?;
                if status.as_deref() != Some("active") && status.as_deref() != Some("suspended") {
                    return Err(Error::invalid(format!("account {person} is no longer active")));
                }
            }
            let now = audit::now();
            tx.execute(
                "UPDATE roster_entries SET ended_at = ?3, ended_ref = ?4 WHERE roster = ?1 AND person = ?2 AND ended_at IS NULL",
                params![roster, person, now, reference],
            )?;
            if change == "add" {
                // Opened with the officer's roster key and sealed again,
                // bound to the entry (`roster.rs`).
                let key = crate::circle::open(tx, ctx, crate::circle::Circle::Roster)?;
                let sealed = fields.ok_or_else(|| Error::tampered(format!("roster request {request} has no fields")))?;
                let fields = crate::roster::open_fields(&key, "request", request, &sealed)?;
                tx.execute(
                    "INSERT INTO roster_entries (roster, person, fields, approved_ref, approved_date, approved_by, approved_at)
                     VALUES (?1, ?2, X'', ?3, ?4, ?5, ?6)",
                    params![roster, person, reference, date.to_string(), ctx.actor.id, now],
                )?;
                let entry = tx.last_insert_rowid();
                tx.execute(
                    "UPDATE roster_entries SET fields = ?2 WHERE id = ?1",
                    params![entry, crate::roster::seal_fields(&key.public(), "entry", entry, &fields)?],
                )?;
                crate::roster::sign_entry(tx, &ctx.signer()?, entry)?;
            }
            tx.execute(
                "UPDATE roster_requests SET state = 'approved', approved_ref = ?2, approved_date = ?3, approved_by = ?4, approved_at = ?5 WHERE id = ?1",
                params![request, reference, date.to_string(), ctx.actor.id, now],
            )?;
            let mut done = Done::ok((), format!("{change} {roster}:{person} ref={reference} date={date}"));
            done.object = Some(format!("roster:{roster}:{person}"));
            Ok(done)
        })
    }

    /// The current entries of both rosters, or the pending requests.
    pub fn roster_list(&mut self) -> Result<(Vec<Entry>, Vec<Request>)> {
        self.perform(Action::RosterRead, "rosters", |tx, ctx| {
            let entries = current_entries(tx, ctx)?;
            let key = crate::circle::open(tx, ctx, crate::circle::Circle::Roster)?;
            let mut stmt = tx.prepare(
                "SELECT id, roster, change, person, requested_by, requested_at, fields FROM roster_requests
                 WHERE state = 'pending' ORDER BY id",
            )?;
            let raw = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                })?
                .collect::<rusqlite::Result<Vec<(i64, String, String, String, String, String, Option<Vec<u8>>)>>>()?;
            let mut requests = Vec::new();
            for (id, roster, change, person, requested_by, requested_at, fields) in raw {
                crate::roster::check_request(tx, ctx, id)?;
                requests.push(Request {
                    id,
                    roster: roster.parse()?,
                    change,
                    person,
                    requested_by,
                    requested_at,
                    fields: fields
                        .map(|f| crate::roster::open_fields(&key, "request", id, &f))
                        .transpose()?,
                });
            }
            Ok(Done::ok((entries, requests), ""))
        })
    }

    /// Both rosters as the documents the council submits: printable HTML
    /// (Japanese, 令和 dates) and CSV. A logged export of personal data.
    pub fn roster_export(&mut self) -> Result<crate::forms::RosterExport> {
        self.perform(Action::RosterExport, "rosters", |tx, ctx| {
            let entries = current_entries(tx, ctx)?;
            let council = String::from_utf8_lossy(&crate::db::meta(tx, "council")?).into_owned();
            let export = crate::forms::rosters(&council, &entries, &ctx.actor.name)?;
            Ok(Done::ok(export, format!("{} entries", entries.len())))
        })
    }
}

impl Session {
    /// Every policy setting with its value (anyone signed in may read it).
    pub fn policy_show(&mut self) -> Result<Vec<PolicyEntry>> {
        self.perform(Action::PolicyShow, "policy", |tx, _| {
            let p = Policy::load(tx)?;
            let entries = SETTINGS
                .iter()
                .map(|s| PolicyEntry {
                    key: s.key.into(),
                    value: p.raw(s.key).into(),
                    default: s.default.into(),
                    meaning: s.meaning.into(),
                })
                .collect();
            Ok(Done::ok(entries, ""))
        })
    }

    /// Change one setting (officer).
    pub fn policy_set(&mut self, key: &str, value: &str) -> Result<()> {
        self.perform(Action::PolicySet, &format!("policy:{key}"), |tx, ctx| {
            let old = store(tx, key, value)?;
            let statement = sign_settings(tx, &ctx.signer()?)?;
            let change = format!("{key}: {old} -> {}", value.trim());
            Ok(Done::ok(
                (),
                crate::trail_facts::policy_detail(&change, &statement),
            ))
        })?;
        // The copy beside the keyslots follows the committed policy, never
        // a value that was rolled back.
        if key.starts_with("lockout.") {
            sync_lockout(&Policy::load(&self.conn)?, &self.ctx.dir)?;
        }
        Ok(())
    }
}
