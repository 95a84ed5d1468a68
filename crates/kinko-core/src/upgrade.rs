//! Upgrading, in place, a vault an earlier release made.
//!
//! Schema 3 → 4 (issue 15) seals the personal data an earlier release
//! kept under the shared database key (`sealing.rs`); a schema-2 vault
//! gets it as part of its one upgrade. Both take the officer's password
//! and the recovery code (the custodian's copies of the document keys
//! seal each label for its holders).
//!
//! Schema 2 → 3 (certificates, issue 14) is one step the Information
//! Management Officer takes once, with their password and the recovery
//! code (`kinko upgrade`), in one transaction: the officer's own slot
//! proves the vault's keys and the officer's record (its schema-2 anchor
//! covers both) and the recovery code proves it is the custodian; the
//! audit trail must verify; a root key is made and sealed to the custodian
//! key; the root certifies the officer; the officer signs the wraps the
//! trail shows for the officer and the custodian; the officer's slot is
//! sealed again with the anchor that names the root.
//!
//! Nobody else is certified by the upgrade: a schema-2 account's keys may
//! be the ones made under its initial password, which whoever set it
//! knew. Every other person chooses a new password at their next
//! sign-in, Kinko makes their keys, and the officer certifies them after
//! comparing fingerprints; their documents wait in `regrant_pending` for
//! the officer's `account recover`. Until the upgrade, nobody signs in.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::account::Password;
use crate::audit::{self, Event};
use crate::cert::{self, Issuer, Subject};
use crate::crypto::{self, kdf::KdfParams, SigningKeyPair};
use crate::db;
use crate::error::{Error, Result};
use crate::keyslots::{anchor, anchor_v2, AccountFacts, KeySlots, SlotSecrets, VaultFacts};
use crate::permission::{Role, Roles};

/// What the upgrade did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UpgradeReport {
    pub officer: String,
    /// Accounts that must choose a new password and be certified.
    pub awaiting_certification: Vec<String>,
    /// Document keys set aside for `account recover` once certified.
    pub set_aside: usize,
    /// Wraps the trail does not show, left unsigned (`document:holder`).
    pub unsigned: Vec<String>,
}

/// Who upgrades, with what.
pub(crate) struct Upgrader<'a> {
    pub vault_id: &'a str,
    pub id: &'a str,
    pub secrets: &'a SlotSecrets,
    pub password: &'a Password,
    pub recovery_code: &'a str,
    pub terminal: &'a str,
    pub keyslots_path: &'a std::path::Path,
}

/// Upgrade a schema-2 database.
pub(crate) fn from_schema_2(conn: &mut Connection, u: &Upgrader) -> Result<UpgradeReport> {
    let officer = AccountRow::load(conn, u.id)?;
    let facts = officer.check_anchor(conn, u.vault_id, u.secrets)?;
    if !Roles::parse(&officer.roles)?.has(Role::Officer) {
        return Err(Error::denied(
            "only the Information Management Officer upgrades the vault",
        ));
    }
    let custodian = crate::vault::parse_recovery_code(u.recovery_code)?;
    if crypto::HpkeKeyPair::public_of(&custodian)? != facts.custodian_public {
        return Err(Error::denied(
            "that recovery code does not belong to this vault",
        ));
    }
    let root = SigningKeyPair::generate();
    let sealed = crypto::hpke_wrap(
        &facts.custodian_public,
        &cert::root_context(u.vault_id),
        &*root.secret,
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(db::SCHEMA_2_TO_3)?;
    tx.execute_batch(db::SCHEMA_3_TABLES)?;
    db::add_missing_indexes(&tx)?;
    // Every event so far is unsigned (schema 2): the tree must still be
    // whole before the officer signs anything on its word.
    audit::verify::verify_trail(&tx, u.vault_id, &root.public, None, None)?;
    for (k, v) in [
        ("root_public", root.public.clone()),
        ("root_sealed", [sealed.enc, sealed.ciphertext].concat()),
    ] {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![k, v],
        )?;
    }
    let officer_serial = cert::issue(
        &tx,
        u.vault_id,
        &Issuer {
            name: cert::ROOT,
            serial: None,
            secret: &root.secret,
        },
        &officer.subject(),
    )?;
    let signer = crate::grant::Signer {
        vault_id: u.vault_id,
        account: u.id,
        serial: officer_serial,
        secret: &u.secrets.sign_secret,
    };
    let unsigned = sign_existing_wraps(&tx, &signer)?;
    check_policy_against_trail(&tx)?;
    crate::policy::sign_settings(&tx, &signer)?;
    let withdrawn = tx.execute("DELETE FROM export_approvals WHERE used_at IS NULL", [])?;
    // Checkpoints and reports are signed by people now: the vault-wide
    // audit key, which every account could read, signs nothing more.
    tx.execute("DELETE FROM meta WHERE key = 'audit_secret'", [])?;
    let sealed = crate::sealing::seal_personal_data(
        &tx,
        &crate::sealing::Sealer {
            signer: &signer,
            officer_public: &officer.hpke_public,
            root_public: &root.public,
            custodian_public: &facts.custodian_public,
            custodian: &custodian,
        },
    )?;
    let unsigned_facts = sign_existing_facts(&tx, &signer)?;
    let mut set_aside = 0;
    let holders: Vec<String> = tx
        .prepare("SELECT DISTINCT holder FROM wraps WHERE holder != ?1 AND holder != ?2")?
        .query_map(params![u.id, crate::document::CUSTODIAN], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for holder in holders {
        set_aside += crate::document::set_aside_wraps(&tx, &holder)?;
    }
    let awaiting: Vec<String> = AccountRow::others(&tx, u.id)?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let detail = format!(
        "schema 2 -> 4; certified: {}; awaiting certification: {}; {set_aside} document keys set aside for recovery; {withdrawn} unused export approvals withdrawn; wraps the trail does not show (left unsigned): {}; records the trail does not show (left unsigned): {}; {}",
        u.id,
        list_or_none(&awaiting),
        list_or_none(&unsigned),
        list_or_none(&unsigned_facts),
        sealed.detail()
    );
    upgrade_event(&tx, u, &root.public, officer_serial, &detail)?;
    let slots = resealed_officer_slot(u, &facts, &root.public)?;
    crate::keyslots::commit_with(tx, u.keyslots_path, &slots)?;
    clear_old_pages(conn);
    Ok(UpgradeReport {
        officer: u.id.to_string(),
        awaiting_certification: awaiting,
        set_aside,
        unsigned,
    })
}

/// Upgrade a schema-3 database: seal its personal data (`sealing.rs`).
/// The officer's slot already names the root; its anchor proves the
/// vault's keys, and the officer must hold a valid certificate.
pub(crate) fn from_schema_3(conn: &mut Connection, u: &Upgrader) -> Result<UpgradeReport> {
    let facts = VaultFacts::read(conn, u.vault_id)?;
    if anchor(&facts) != u.secrets.anchor {
        return Err(Error::tampered(
            "the vault's keys were changed outside Kinko, or your keyslot is older than your certificate",
        ));
    }
    let officer = AccountRow::load(conn, u.id)?;
    let cert = cert::current(conn, u.vault_id, &facts.root_public, u.id)?
        .filter(|c| c.roles.has(Role::Officer) && c.hpke_public == officer.hpke_public)
        .ok_or_else(|| {
            Error::denied("only the Information Management Officer upgrades the vault")
        })?;
    let custodian = crate::vault::parse_recovery_code(u.recovery_code)?;
    if crypto::HpkeKeyPair::public_of(&custodian)? != facts.custodian_public {
        return Err(Error::denied(
            "that recovery code does not belong to this vault",
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    audit::verify::verify_trail(&tx, u.vault_id, &facts.root_public, None, None)?;
    let signer = crate::grant::Signer {
        vault_id: u.vault_id,
        account: u.id,
        serial: cert.body.serial,
        secret: &u.secrets.sign_secret,
    };
    let sealed = crate::sealing::seal_personal_data(
        &tx,
        &crate::sealing::Sealer {
            signer: &signer,
            officer_public: &officer.hpke_public,
            root_public: &facts.root_public,
            custodian_public: &facts.custodian_public,
            custodian: &custodian,
        },
    )?;
    upgrade_event(
        &tx,
        u,
        &facts.root_public,
        cert.body.serial,
        &format!("schema 3 -> 4; {}", sealed.detail()),
    )?;
    tx.commit()?;
    clear_old_pages(conn);
    Ok(UpgradeReport {
        officer: u.id.to_string(),
        awaiting_certification: Vec::new(),
        set_aside: 0,
        unsigned: sealed.unsigned,
    })
}

/// The pages that held the clear labels and roster fields before the
/// sealing leave the journal and the file (secure_delete is on), as a
/// disposal's do. Best effort: the upgrade is committed; another process
/// reading keeps them until the next checkpoint.
fn clear_old_pages(conn: &Connection) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let _ = conn.execute_batch("VACUUM");
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// The upgrade's event, signed by the officer under `serial`.
fn upgrade_event(
    tx: &Connection,
    u: &Upgrader,
    root_public: &[u8],
    serial: i64,
    detail: &str,
) -> Result<()> {
    audit::append(
        tx,
        &Event::new(
            u.id,
            "vault.upgrade",
            &format!("vault:{}", u.vault_id),
            audit::OK,
            u.terminal,
            detail,
        ),
        &audit::EventSigner::new(
            u.vault_id,
            root_public,
            u.id,
            Some(serial),
            &u.secrets.sign_secret,
        )?,
    )?;
    Ok(())
}

/// The officer's slot, same keys, with the anchor that names the root.
fn resealed_officer_slot(u: &Upgrader, facts: &VaultFacts, root_public: &[u8]) -> Result<KeySlots> {
    let mut slots = KeySlots::load(u.keyslots_path)?;
    let profile = slots
        .slot(u.id)
        .map(|s| s.kdf.profile())
        .ok_or_else(|| Error::tampered("your keyslot is missing"))?;
    let mut secrets = u.secrets.clone();
    secrets.anchor = anchor(&VaultFacts {
        root_public: root_public.to_vec(),
        ..facts.clone()
    });
    slots.set(
        u.id,
        u.password.as_bytes(),
        KdfParams::new(profile),
        &secrets,
        None,
    )?;
    Ok(slots)
}

/// The officer signs the records of documents the trail shows as they
/// are (a receipt's size, SHA-256 and personal-data flag exactly as its
/// import event recorded them) and the current roster entries. Others
/// stay unsigned and count as tampering from now on; their names are
/// returned for the event. Unused export approvals are withdrawn by the
/// upgrade (a row copied or made unused again cannot be told from the
/// real one): the officer approves again.
fn sign_existing_facts(conn: &Connection, signer: &crate::grant::Signer) -> Result<Vec<String>> {
    let mut unsigned = Vec::new();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM documents WHERE erased_at IS NULL ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        let doc = crate::document::load_doc(conn, id)?;
        let size: i64 = conn.query_row("SELECT size FROM documents WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
        let recorded = trail_shows(
            conn,
            "document.import",
            &format!("document:{id}"),
            &format!(
                "size={size} sha256={} personal_data={}",
                doc.sha256, doc.personal_data
            ),
        )?;
        if !recorded {
            unsigned.push(format!("receipt:{id}"));
            continue;
        }
        let s = crate::statement::sign(signer, "receipt", crate::document::receipt_says(&doc))?;
        conn.execute(
            "UPDATE documents SET statement = ?2, signature = ?3 WHERE id = ?1",
            params![id, s.bytes, s.signature],
        )?;
    }
    sign_roster_entries(conn, signer, &mut unsigned)?;
    sign_disposal_approvals(conn, signer, &mut unsigned)?;
    sign_confirmations(conn, signer, &mut unsigned)?;
    Ok(unsigned)
}

/// Does the trail hold an `ok` event of this kind, object and detail, as
/// the action that made the fact wrote it? The upgrade signs only those.
fn trail_shows(conn: &Connection, event: &str, object: &str, detail: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE event = ?1 AND object = ?2 AND outcome = 'ok' AND detail = ?3)",
        params![event, object, detail],
        |r| r.get(0),
    )?)
}

/// The officer signs the recorded approval of a plan that is still in
/// force when the trail shows it as recorded; an approval the trail does
/// not show is withdrawn from a plan not yet executing (the officer
/// records it again) and left unsigned otherwise (named in the report).
fn sign_disposal_approvals(
    conn: &Connection,
    signer: &crate::grant::Signer,
    unsigned: &mut Vec<String>,
) -> Result<()> {
    type Row = (i64, String, String, Option<String>, Option<String>);
    let plans: Vec<Row> = conn
        .prepare("SELECT id, state, body_sha256, approved_ref, approved_date FROM disposal_plans WHERE approved_ref IS NOT NULL AND state != 'superseded' ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, state, sha, reference, date) in plans {
        let recorded = trail_shows(
            conn,
            "disposal.approve",
            &format!("disposal:{id}"),
            &format!(
                "plan {id} sha256={sha} ref={} date={}",
                reference.as_deref().unwrap_or_default(),
                date.as_deref().unwrap_or_default()
            ),
        )?;
        if recorded {
            crate::disposal::sign_approval(conn, signer, id)?;
        } else if state == "approved" {
            conn.execute(
                "UPDATE disposal_plans SET state = 'draft', approved_ref = NULL, approved_date = NULL, approved_by = NULL, approved_at = NULL WHERE id = ?1",
                [id],
            )?;
            unsigned.push(format!("disposal approval:{id} (withdrawn)"));
        } else {
            unsigned.push(format!("disposal approval:{id}"));
        }
    }
    Ok(())
}

/// A plan confirmed before the upgrade has no confirmer's signature
/// (nobody signed one then): the officer signs the confirmation as
/// carried over when the trail shows it as it is stored, so its report can
/// still be made (and says so); else it is left unsigned (named).
fn sign_confirmations(
    conn: &Connection,
    signer: &crate::grant::Signer,
    unsigned: &mut Vec<String>,
) -> Result<()> {
    use crate::disposal::confirmation;
    let plans: Vec<(i64, String)> = conn
        .prepare("SELECT id, verification FROM disposal_plans WHERE state IN ('confirmed', 'reported') ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, verification) in plans {
        let items = serde_json::from_str::<Vec<serde_json::Value>>(&verification).map(|v| v.len());
        let recorded = match items {
            Ok(n) => trail_shows(
                conn,
                "disposal.confirm",
                "disposal",
                &format!("plan {id}: {n} items verified unreadable"),
            )?,
            Err(_) => false,
        };
        match confirmation::stored_says(conn, signer.vault_id, id) {
            Ok((says, _)) if recorded => {
                confirmation::sign(conn, signer, id, confirmation::CARRIED_OVER, says)?
            }
            Ok(_) | Err(Error::Tampered(_)) => unsigned.push(format!("disposal confirmation:{id}")),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The officer signs the current roster entries whose approval the trail
/// recorded as they stand.
fn sign_roster_entries(
    conn: &Connection,
    signer: &crate::grant::Signer,
    unsigned: &mut Vec<String>,
) -> Result<()> {
    type Row = (i64, String, String, String, String);
    let entries: Vec<Row> = conn
        .prepare("SELECT id, roster, person, approved_ref, approved_date FROM roster_entries WHERE ended_at IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, roster, person, reference, date) in entries {
        let recorded = trail_shows(
            conn,
            "roster.approve",
            &format!("roster:{roster}:{person}"),
            &format!("add {roster}:{person} ref={reference} date={date}"),
        )?;
        if recorded {
            crate::roster::sign_entry(conn, signer, id)?;
        } else {
            unsigned.push(format!("roster:{id}"));
        }
    }
    Ok(())
}

/// Each stored setting must be the value its last `policy.set` event
/// recorded: a setting written outside Kinko is not signed into the new
/// policy; the upgrade stops, naming it.
fn check_policy_against_trail(conn: &Connection) -> Result<()> {
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT key, value FROM policy ORDER BY key")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (key, value) in rows {
        let last: Option<String> = conn
            .query_row(
                "SELECT detail FROM audit_events WHERE event = 'policy.set' AND object = ?1 AND outcome = 'ok' ORDER BY seq DESC LIMIT 1",
                [format!("policy:{key}")],
                |r| r.get(0),
            )
            .optional()?;
        if !last.is_some_and(|d| d.ends_with(&format!(" -> {value}"))) {
            return Err(Error::tampered(format!(
                "the policy setting {key} = {value} is not what the trail recorded (written outside Kinko); the upgrade was not made"
            )));
        }
    }
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(",")
    }
}

/// The officer signs, by the right "upgrade", every wrap the trail shows
/// was given (at import, by a grant, by a recovery), the others' before
/// they are set aside, so that `account recover` gives back only those.
/// The rest stay unsigned (and so count as tampering from now on); their
/// `document:holder` names are returned.
fn sign_existing_wraps(conn: &Connection, signer: &crate::grant::Signer) -> Result<Vec<String>> {
    type Row = (i64, Vec<u8>, String, Vec<u8>, Vec<u8>);
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT w.doc_id, d.uid, w.holder, w.enc, w.ciphertext FROM wraps w JOIN documents d ON d.id = w.doc_id
             ORDER BY w.doc_id, w.holder",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut unsigned = Vec::new();
    for (doc_id, uid, holder, enc, ciphertext) in rows {
        let uid: [u8; 16] = uid.try_into().map_err(|_| {
            Error::tampered(format!("document {doc_id} has a uid of the wrong length"))
        })?;
        if !trail_shows_wrap(conn, doc_id, &holder)? {
            unsigned.push(format!("{doc_id}:{holder}"));
            continue;
        }
        let wrap = crate::grant::WrapRow {
            uid: &uid,
            holder: &holder,
            enc: &enc,
            ciphertext: &ciphertext,
        };
        let (statement, signature) =
            crate::grant::sign(signer, &wrap, crate::grant::Right::Upgrade)?;
        conn.execute(
            "UPDATE wraps SET statement = ?1, signature = ?2 WHERE doc_id = ?3 AND holder = ?4",
            params![statement, signature, doc_id, holder],
        )?;
    }
    Ok(unsigned)
}

/// Does the trail show how `holder` came to hold document `doc_id`?
fn trail_shows_wrap(conn: &Connection, doc_id: i64, holder: &str) -> Result<bool> {
    let object = format!("document:{doc_id}");
    let found: bool = if holder == crate::document::CUSTODIAN {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM audit_events WHERE event = 'document.import' AND object = ?1 AND outcome = 'ok')",
            [&object],
            |r| r.get(0),
        )?
    } else {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM audit_events WHERE outcome = 'ok' AND (
                 (event = 'document.import' AND object = ?1 AND actor = ?2)
              OR (event = 'document.grant' AND object = ?1 AND detail = 'to=' || ?2)
              OR (event = 'account.recover' AND object = 'account:' || ?2)))",
            params![object, holder],
            |r| r.get(0),
        )?
    };
    Ok(found)
}

struct AccountRow {
    id: String,
    name: String,
    roles: String,
    hpke_public: Vec<u8>,
    sign_public: Vec<u8>,
}

impl AccountRow {
    const COLUMNS: &'static str = "id, name, roles, hpke_public, sign_public";

    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(AccountRow {
            id: r.get(0)?,
            name: r.get(1)?,
            roles: r.get(2)?,
            hpke_public: r.get(3)?,
            sign_public: r.get(4)?,
        })
    }

    fn load(conn: &Connection, id: &str) -> Result<Self> {
        conn.query_row(
            &format!("SELECT {} FROM accounts WHERE id = ?1", Self::COLUMNS),
            [id],
            Self::from_row,
        )
        .optional()?
        .ok_or_else(|| Error::tampered(format!("keyslot for {id} has no account")))
    }

    fn others(conn: &Connection, id: &str) -> Result<Vec<Self>> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE id != ?1 AND status != 'disabled' ORDER BY id",
            Self::COLUMNS
        );
        let rows = conn
            .prepare(&sql)?
            .query_map([id], Self::from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The schema-2 anchor of the slot covers the vault's keys and this
    /// record: a changed role or key of the officer is tampering.
    fn check_anchor(
        &self,
        conn: &Connection,
        vault_id: &str,
        secrets: &SlotSecrets,
    ) -> Result<VaultFacts> {
        let facts = VaultFacts {
            vault_id: vault_id.to_string(),
            custodian_public: db::meta(conn, "custodian_public")?,
            inbox_public: db::meta(conn, "inbox_public")?,
            audit_public: db::meta(conn, "audit_public")?,
            root_public: Vec::new(),
        };
        let expected = anchor_v2(
            &facts,
            &AccountFacts {
                account: &self.id,
                roles: &self.roles,
                hpke_public: &self.hpke_public,
                sign_public: &self.sign_public,
            },
        );
        if expected != secrets.anchor {
            return Err(Error::tampered(
                "the vault's keys or your account record were changed outside Kinko",
            ));
        }
        Ok(facts)
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            account: &self.id,
            name: &self.name,
            roles: &self.roles,
            hpke_public: &self.hpke_public,
            sign_public: &self.sign_public,
        }
    }
}
