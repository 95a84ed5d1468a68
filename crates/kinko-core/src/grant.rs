//! Granting and revoking per-person access (D3). Access is enforced by
//! keys: a grant wraps the document's DEK to the person's HPKE public key,
//! which only a person who already holds the DEK can do; a revoke deletes
//! that wrap (with `secure_delete`, so its bytes leave the database file).

use rusqlite::{params, OptionalExtension};

use crate::account::validate_id;
use crate::document::{load_doc, load_wrap, object, store_wrap, unwrap_own_dek, CUSTODIAN};
use crate::error::{Error, Result};
use crate::permission::{Action, Roles};
use crate::session::{Done, Session};

impl Session {
    /// Give `to` access to document `id`.
    pub fn grant(&mut self, id: i64, to: &str) -> Result<()> {
        self.perform(Action::Grant, &object(id), |tx, ctx| {
            validate_id(to)?;
            let doc = load_doc(tx, id)?;
            let account: Option<(String, String, Vec<u8>)> = tx
                .query_row("SELECT roles, status, hpke_public FROM accounts WHERE id = ?1", [to], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let (roles, status, public) = account.ok_or_else(|| Error::NotFound(format!("account {to}")))?;
            if status != "active" {
                return Err(Error::denied(format!("account {to} is {status} and cannot be granted documents")));
            }
            if !Roles::parse(&roles)?.reads_documents() {
                return Err(Error::denied(format!(
                    "account {to} ({roles}) may never read documents (separation of duties)"
                )));
            }
            crate::roster::check_may_receive(tx, to)?;
            if load_wrap(tx, id, to)?.is_some() {
                return Err(Error::invalid(format!("document {id} is already granted to {to}")));
            }
            let dek = unwrap_own_dek(tx, ctx, &doc).map_err(|e| match e {
                Error::Denied(_) => Error::denied(format!(
                    "you do not hold the key of document {id}, so you cannot grant it; ask someone who holds it"
                )),
                other => other,
            })?;
            store_wrap(tx, ctx, id, &doc.uid, to, &public, &dek)?;
            Ok(Done::ok((), format!("to={to}")))
        })
    }

    /// Take `from`'s access to document `id` away: their wrap is deleted.
    pub fn revoke(&mut self, id: i64, from: &str) -> Result<()> {
        self.perform(Action::Revoke, &object(id), |tx, _| {
            validate_id(from)?;
            load_doc(tx, id)?;
            debug_assert!(
                !from.starts_with('#'),
                "validate_id refuses the custodian's holder name"
            );
            let n = tx.execute(
                "DELETE FROM wraps WHERE doc_id = ?1 AND holder = ?2 AND holder != ?3",
                params![id, from, CUSTODIAN],
            )?;
            if n == 0 {
                return Err(Error::NotFound(format!(
                    "a grant of document {id} to {from}"
                )));
            }
            Ok(Done::ok((), format!("from={from}")))
        })
    }
}

/// Who holds a key to which document: one row per person and document.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Holding {
    pub person: String,
    pub name: String,
    pub doc_id: i64,
    pub title: String,
    pub personal_data: bool,
}

impl Session {
    /// Every grant in force, by person (the manager's per-person view).
    pub fn grants_by_person(&mut self) -> Result<Vec<Holding>> {
        self.perform(Action::GrantList, "grants", |tx, _| {
            let rows = tx
                .prepare(
                    "SELECT w.holder, a.name, d.id, d.title, d.personal_data
                     FROM wraps w JOIN documents d ON d.id = w.doc_id JOIN accounts a ON a.id = w.holder
                     WHERE w.holder != ?1 ORDER BY w.holder, d.id",
                )?
                .query_map([CUSTODIAN], |r| {
                    Ok(Holding {
                        person: r.get(0)?,
                        name: r.get(1)?,
                        doc_id: r.get(2)?,
                        title: r.get(3)?,
                        personal_data: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let n = rows.len();
            Ok(Done::ok(rows, format!("rows={n}")))
        })
    }
}
