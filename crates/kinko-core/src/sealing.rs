//! Schema 3 → 4 (issue 15): what an earlier release kept under the shared
//! database key alone, sealed where only the people entitled read it. Run
//! by the officer with the recovery code, inside the upgrade's one
//! transaction (`upgrade.rs`):
//!
//! - the two circles are made (`circle.rs`), the officer and every
//!   account whose current certificate admits it taken in;
//! - roster entries' and requests' fields are sealed to the roster circle;
//!   an entry's signed record (which named its fields in the clear) is
//!   signed again over the sealed bytes if it held, else dropped (the entry
//!   then counts as unsigned, named in the upgrade's event);
//! - every live document's label is sealed for its holders (under its
//!   data key, opened with the custodian's copy) and for the catalogue,
//!   and the clear columns emptied;
//! - every password history hash is sealed to its account's key.
//!
//! TOTP secrets stored in the clear stay until their next use, which
//! seals them (only the person's own key can).

use rusqlite::{params, Transaction};

use crate::circle::{self, Circle, CirclePublic};
use crate::error::{Error, Result};
use crate::grant::Signer;
use crate::label::{DocKey, Label};
use crate::permission::Roles;

/// Who seals, with what.
pub(crate) struct Sealer<'a> {
    pub signer: &'a Signer<'a>,
    pub officer_public: &'a [u8],
    pub root_public: &'a [u8],
    pub custodian_public: &'a [u8],
    pub custodian: &'a [u8; 32],
}

/// What the sealing did, for the upgrade's event.
pub(crate) struct Sealed {
    pub roster_records: usize,
    /// Requests still waiting, withdrawn: nobody signed them (the
    /// managers ask again).
    pub withdrawn_requests: usize,
    pub labels: usize,
    pub history: usize,
    /// Roster entries whose signed record did not hold (`roster:N`).
    pub unsigned: Vec<String>,
}

impl Sealed {
    pub(crate) fn detail(&self) -> String {
        format!(
            "personal data sealed: {} roster records, {} document labels, {} password history entries; {} waiting roster requests withdrawn; roster records left unsigned: {}",
            self.roster_records,
            self.labels,
            self.history,
            self.withdrawn_requests,
            if self.unsigned.is_empty() { "none".into() } else { self.unsigned.join(",") }
        )
    }
}

/// Seal everything an earlier schema kept in the clear; the database is
/// schema 4 after.
pub(crate) fn seal_personal_data(tx: &Transaction, s: &Sealer) -> Result<Sealed> {
    check_never_sealed(tx)?;
    tx.execute_batch(crate::db::SCHEMA_3_TO_4)?;
    let members = certified_members(tx, s)?;
    let mut publics = Vec::new();
    for c in Circle::ALL {
        let admitted: Vec<(&str, &[u8])> = members
            .iter()
            .filter(|(_, _, roles)| c.admits(roles))
            .map(|(id, public, _)| (id.as_str(), public.as_slice()))
            .collect();
        publics.push(circle::create(tx, s.signer, c, s.custodian_public, &admitted)?.public());
    }
    let (roster, catalogue) = (&publics[0], &publics[1]);
    let mut unsigned = Vec::new();
    let roster_records = seal_rosters(tx, s, roster, &mut unsigned)?;
    let withdrawn_requests = tx.execute(
        "UPDATE roster_requests SET state = 'withdrawn' WHERE state = 'pending'",
        [],
    )?;
    let labels = seal_labels(tx, s, catalogue)?;
    let history = seal_history(tx, s)?;
    Ok(Sealed {
        roster_records,
        withdrawn_requests,
        labels,
        history,
        unsigned,
    })
}

/// A vault that was sealed once (made at schema 4, or upgraded to it) and
/// whose version someone set back by hand, to have the officer seal empty
/// columns under new keys, is refused: the trail or the data shows it.
fn check_never_sealed(tx: &Transaction) -> Result<()> {
    let sealed_before: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name IN ('circles', 'circle_wraps'))
             OR EXISTS (SELECT 1 FROM audit_events WHERE (event = 'vault.upgrade' AND detail LIKE '%-> 4%')
                                                       OR (event = 'vault.init' AND detail LIKE '%schema 4%'))
             OR EXISTS (SELECT 1 FROM roster_entries WHERE typeof(fields) = 'blob')
             OR EXISTS (SELECT 1 FROM roster_requests WHERE typeof(fields) = 'blob')",
        [],
        |r| r.get(0),
    )?;
    if sealed_before {
        return Err(Error::tampered(
            "the vault's personal data was sealed before and its schema version set back outside Kinko; the upgrade was not made",
        ));
    }
    Ok(())
}

/// The officer and every account whose current certificate is valid:
/// their ID, certified HPKE key and roles.
fn certified_members(tx: &Transaction, s: &Sealer) -> Result<Vec<(String, Vec<u8>, Roles)>> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM accounts WHERE status != 'disabled' ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let vault_id = s.signer.vault_id;
    let mut members = vec![(
        s.signer.account.to_string(),
        s.officer_public.to_vec(),
        Roles::parse("officer")?,
    )];
    for id in ids.into_iter().filter(|id| id != s.signer.account) {
        if let Some(cert) = crate::cert::current(tx, vault_id, s.root_public, &id)? {
            members.push((id, cert.hpke_public.clone(), cert.roles.clone()));
        }
    }
    Ok(members)
}

/// Seal the rosters' fields; sign entries again over the sealed bytes.
fn seal_rosters(
    tx: &Transaction,
    s: &Sealer,
    roster: &CirclePublic,
    unsigned: &mut Vec<String>,
) -> Result<usize> {
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        String,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let entries: Vec<Row> = tx
        .prepare("SELECT id, roster, person, fields, approved_ref, approved_date, statement, signature FROM roster_entries WHERE typeof(fields) = 'text' ORDER BY id")?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0;
    for (id, kind, person, fields, reference, date, statement, signature) in entries {
        // Schema 2 signed no entries (the upgrade signs those the trail
        // shows, after); a schema-3 entry's record is signed again only if
        // it held.
        let had_statement = statement.is_some();
        let held = had_statement
            && crate::statement::check(
                tx,
                s.signer.vault_id,
                s.root_public,
                &crate::statement::Claim {
                    kind: "roster entry",
                    says: serde_json::json!({
                        "entry": id, "roster": kind, "person": person, "fields": fields,
                        "approved_ref": reference, "approved_date": date,
                    }),
                    needs: crate::permission::Action::RosterApprove,
                    what: "a roster entry",
                    by: None,
                },
                (statement, signature),
            )
            .is_ok();
        let fields = parse(&fields, &format!("roster entry {id}"))?;
        let sealed = crate::roster::seal_fields(roster, "entry", id, &fields)?;
        tx.execute(
            "UPDATE roster_entries SET fields = ?2, statement = NULL, signature = NULL WHERE id = ?1",
            params![id, sealed],
        )?;
        if held {
            crate::roster::sign_entry(tx, s.signer, id)?;
        } else if had_statement {
            unsigned.push(format!("roster:{id}"));
        }
        n += 1;
    }
    let requests: Vec<(i64, String)> = tx
        .prepare(
            "SELECT id, fields FROM roster_requests WHERE typeof(fields) = 'text' ORDER BY id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, fields) in requests {
        let fields = parse(&fields, &format!("roster request {id}"))?;
        let sealed = crate::roster::seal_fields(roster, "request", id, &fields)?;
        tx.execute(
            "UPDATE roster_requests SET fields = ?2 WHERE id = ?1",
            params![id, sealed],
        )?;
        n += 1;
    }
    Ok(n)
}

fn parse(json: &str, what: &str) -> Result<crate::roster::RosterFields> {
    serde_json::from_str(json).map_err(|_| Error::tampered(format!("{what} is damaged")))
}

/// Seal every live document's label twice and empty the clear columns.
fn seal_labels(tx: &Transaction, s: &Sealer, catalogue: &CirclePublic) -> Result<usize> {
    type Row = (i64, String, String, String, String, String);
    let docs: Vec<Row> = tx
        .prepare("SELECT id, title, file_name, origin, via, purpose FROM documents WHERE erased_at IS NULL AND label_held IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let vault_id = s.signer.vault_id;
    let n = docs.len();
    for (id, title, file_name, origin, via, purpose) in docs {
        // Every receipt has a title: an empty one was cleared by hand.
        if title.is_empty() {
            return Err(Error::tampered(format!(
                "document {id} has no title to seal (cleared outside Kinko); the upgrade was not made"
            )));
        }
        let doc = crate::document::load_doc(tx, id)?;
        let dek = crate::document::custodian_dek(tx, vault_id, &doc, s.custodian)?;
        let label = Label {
            title,
            file_name,
            origin,
            via,
            purpose,
        };
        crate::label::store(
            tx,
            catalogue,
            &DocKey {
                vault_id,
                doc: id,
                uid: &doc.uid,
                dek: &dek,
            },
            &label,
            (s.signer, crate::label::Voucher::CarriedOver),
        )?;
        tx.execute(
            "UPDATE documents SET title = '', file_name = '', origin = '', via = '', purpose = '' WHERE id = ?1",
            [id],
        )?;
    }
    // Documents disposed of by an earlier release kept their `via`.
    tx.execute(
        "UPDATE documents SET title = '', file_name = '', origin = '', via = '', purpose = '' WHERE erased_at IS NOT NULL",
        [],
    )?;
    Ok(n)
}

/// Seal every clear password history hash to its account's key: the
/// certified one where there is a certificate (a key written on the row
/// by hand would receive the hashes), else the row's (an account awaiting
/// certification seals them again at its next password).
fn seal_history(tx: &Transaction, s: &Sealer) -> Result<usize> {
    let vault_id = s.signer.vault_id;
    let accounts: Vec<(String, Vec<u8>, i64)> = tx
        .prepare(
            "SELECT a.id, a.hpke_public, count(*) FROM password_history h JOIN accounts a ON a.id = h.account GROUP BY a.id ORDER BY a.id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0;
    for (account, row_public, count) in accounts {
        let public = match crate::cert::current(tx, vault_id, s.root_public, &account)? {
            Some(cert) => cert.hpke_public,
            None => row_public,
        };
        crate::credentials::reseal_history(
            tx,
            vault_id,
            None,
            &crate::credentials::HistoryOwner {
                vault_id,
                account: &account,
                public: &public,
            },
        )?;
        n += count as usize;
    }
    Ok(n)
}
