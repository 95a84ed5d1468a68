//! The handler roster (情報取扱者名簿, P2) and the worker roster
//! (業務従事者名簿, P3), and their changes (P4): a manager requests, the
//! officer records the bureau's approval (reference, date), and only then
//! does the change take effect. A removal ends the person's access to
//! every document at once, before any approval. Documents are granted only
//! to people on the approved, current handler roster.
//!
//! Both rosters are personal data: every entry's and request's fields are
//! sealed to the roster circle (`circle.rs`), so only the officer, the
//! managers and the custodian read them; the shared database key shows
//! only who is on which roster and since when.

use rusqlite::{OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::account::validate_text;
use crate::error::{Error, Result};

/// Which roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RosterKind"))]
#[serde(rename_all = "lowercase")]
pub enum Roster {
    /// 情報取扱者名簿: everyone who may be given documents.
    Handler,
    /// 業務従事者名簿: everyone working on the contract.
    Worker,
}

impl Roster {
    pub fn as_str(self) -> &'static str {
        match self {
            Roster::Handler => "handler",
            Roster::Worker => "worker",
        }
    }

    pub fn title_ja(self) -> &'static str {
        match self {
            Roster::Handler => "情報取扱者名簿",
            Roster::Worker => "業務従事者名簿",
        }
    }
}

impl std::str::FromStr for Roster {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "handler" | "handlers" => Ok(Roster::Handler),
            "worker" | "workers" => Ok(Roster::Worker),
            _ => Err(Error::invalid(format!(
                "unknown roster '{s}': use handler or worker"
            ))),
        }
    }
}

/// Everything the spec names for a roster entry. The handler roster needs
/// name, address, date of birth, department, position (and the role and
/// organisation for subcontractor staff); the worker roster needs name,
/// department, position and the career fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RosterFields {
    pub name: String,
    pub department: String,
    pub position: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// 役割: the person's role in handling the information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duty: Option<String>,
    /// Subcontractor organisation, for staff of a subcontractor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_history: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expertise: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_languages: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
}

impl RosterFields {
    pub(crate) fn check(&self, roster: Roster) -> Result<()> {
        validate_text("name", &self.name, 200)?;
        validate_text("department", &self.department, 200)?;
        validate_text("position", &self.position, 200)?;
        let optional = [
            ("address", &self.address),
            ("duty", &self.duty),
            ("organisation", &self.organisation),
            ("education", &self.education),
            ("work_history", &self.work_history),
            ("experience", &self.experience),
            ("training", &self.training),
            ("expertise", &self.expertise),
            ("native_language", &self.native_language),
            ("foreign_languages", &self.foreign_languages),
            ("nationality", &self.nationality),
        ];
        for (field, value) in optional {
            if let Some(v) = value {
                validate_text(field, v, 1000)?;
            }
        }
        if let Some(b) = &self.birth_date {
            chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| {
                Error::field(
                    "birth_date",
                    format!("date of birth '{b}' is not a date like 1980-04-01"),
                )
            })?;
        }
        let missing = |field: &'static str| {
            Error::field(
                field,
                format!(
                    "the {} needs the {}",
                    roster.title_ja(),
                    field.replace('_', " ")
                ),
            )
        };
        match roster {
            Roster::Handler => {
                self.address.as_ref().ok_or_else(|| missing("address"))?;
                self.birth_date
                    .as_ref()
                    .ok_or_else(|| missing("birth_date"))?;
            }
            Roster::Worker => {
                for (flag, v) in [
                    ("education", &self.education),
                    ("work_history", &self.work_history),
                    ("nationality", &self.nationality),
                    ("native_language", &self.native_language),
                ] {
                    v.as_ref().ok_or_else(|| missing(flag))?;
                }
            }
        }
        Ok(())
    }
}

/// A current roster entry.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RosterEntry"))]
pub struct Entry {
    pub roster: Roster,
    pub person: String,
    #[serde(flatten)]
    pub fields: RosterFields,
    pub approved_ref: String,
    pub approved_date: String,
}

/// A change waiting for the bureau's approval.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "RosterRequest"))]
pub struct Request {
    pub id: i64,
    pub roster: Roster,
    pub change: String,
    pub person: String,
    pub requested_by: String,
    pub requested_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<RosterFields>,
}

/// Is `person` on the approved, current handler roster with no removal
/// pending? Grants are refused otherwise.
/// What the officer's record of an approved roster entry says: the
/// fields by the digest of their sealed bytes (the statement is readable
/// by every account holder; the fields are not).
pub(crate) fn entry_says(id: i64, row: &EntryRow) -> serde_json::Value {
    serde_json::json!({
        "entry": id, "roster": row.roster, "person": row.person,
        "fields_sealed_sha256": crate::crypto::hex(&crate::crypto::sha256(&row.fields)),
        "approved_ref": row.approved_ref, "approved_date": row.approved_date,
    })
}

/// What a roster entry's or request's sealed fields are bound to.
pub(crate) fn sealed_as(kind: &str, id: i64) -> String {
    format!("the fields of roster {kind} {id}")
}

/// Seal `fields` to the roster circle as `kind` (`entry`, `request`) `id`.
pub(crate) fn seal_fields(
    circle: &crate::circle::CirclePublic,
    kind: &str,
    id: i64,
    fields: &RosterFields,
) -> Result<Vec<u8>> {
    let json = zeroize::Zeroizing::new(serde_json::to_vec(fields).expect("serialises"));
    circle.seal(&sealed_as(kind, id), &json)
}

/// Open sealed fields of `kind` `id` with the roster key.
pub(crate) fn open_fields(
    key: &crate::circle::CircleKey,
    kind: &str,
    id: i64,
    sealed: &[u8],
) -> Result<RosterFields> {
    let json = key.open(&sealed_as(kind, id), sealed)?;
    serde_json::from_slice(&json).map_err(|_| Error::tampered("a roster record is damaged"))
}

/// What a request's signed statement says: its row, the fields by the
/// digest of their sealed bytes.
fn request_says(tx: &rusqlite::Connection, id: i64) -> Result<(serde_json::Value, String, Signed)> {
    type Row = (
        String,
        String,
        String,
        Option<Vec<u8>>,
        String,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let (roster, change, person, fields, by, statement, signature): Row = tx
        .query_row(
            "SELECT roster, change, person, fields, requested_by, statement, signature FROM roster_requests WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("roster request {id}")))?;
    let says = serde_json::json!({
        "request": id, "roster": roster, "change": change, "person": person,
        "fields_sealed_sha256": fields.map(|f| crate::crypto::hex(&crate::crypto::sha256(&f))),
    });
    Ok((says, by, (statement, signature)))
}

/// The requester signs request `id` as stored (anyone may seal to the
/// roster circle, so the fields the officer approves must carry who asked).
pub(crate) fn sign_request(
    tx: &rusqlite::Connection,
    signer: &crate::grant::Signer,
    id: i64,
) -> Result<()> {
    let (says, _, _) = request_says(tx, id)?;
    let s = crate::statement::sign(signer, "roster request", says)?;
    tx.execute(
        "UPDATE roster_requests SET statement = ?2, signature = ?3 WHERE id = ?1",
        rusqlite::params![id, s.bytes, s.signature],
    )?;
    Ok(())
}

/// Request `id` must be what its requester signed: one written or changed
/// outside Kinko is tampering.
pub(crate) fn check_request(
    tx: &rusqlite::Connection,
    ctx: &crate::actor::Ctx,
    id: i64,
) -> Result<()> {
    let (says, by, signed) = request_says(tx, id)?;
    ctx.check_statement(
        tx,
        &crate::statement::Claim {
            kind: "roster request",
            says,
            needs: crate::permission::Action::RosterRequest,
            what: &format!("roster request {id}"),
            by: Some(&by),
        },
        signed,
    )
}

/// A roster entry as stored.
pub(crate) struct EntryRow {
    pub roster: String,
    pub person: String,
    /// Sealed to the roster circle ([`seal_fields`]).
    pub fields: Vec<u8>,
    pub approved_ref: String,
    pub approved_date: String,
}

/// Sign entry `id` as the officer's record of the bureau's approval.
pub(crate) fn sign_entry(
    tx: &rusqlite::Connection,
    signer: &crate::grant::Signer,
    id: i64,
) -> Result<()> {
    let (row, _) = load_entry(tx, id)?;
    let s = crate::statement::sign(signer, "roster entry", entry_says(id, &row))?;
    tx.execute(
        "UPDATE roster_entries SET statement = ?2, signature = ?3 WHERE id = ?1",
        rusqlite::params![id, s.bytes, s.signature],
    )?;
    Ok(())
}

type Signed = (Option<Vec<u8>>, Option<Vec<u8>>);

fn load_entry(tx: &rusqlite::Connection, id: i64) -> Result<(EntryRow, Signed)> {
    let (row, fields, signed) = tx.query_row(
        "SELECT roster, person, fields, approved_ref, approved_date, statement, signature FROM roster_entries WHERE id = ?1",
        [id],
        |r| {
            Ok((
                EntryRow {
                    roster: r.get(0)?,
                    person: r.get(1)?,
                    fields: Vec::new(),
                    approved_ref: r.get(3)?,
                    approved_date: r.get(4)?,
                },
                r.get::<_, rusqlite::types::Value>(2)?,
                (r.get(5)?, r.get(6)?),
            ))
        },
    )?;
    // Sealed fields are bytes; text there was written outside Kinko.
    let rusqlite::types::Value::Blob(fields) = fields else {
        return Err(Error::tampered(format!(
            "roster entry {id} holds its fields in the clear (written outside Kinko)"
        )));
    };
    Ok((EntryRow { fields, ..row }, signed))
}

/// Entry `id` must say what the officer signed when recording the
/// bureau's approval: one written outside Kinko is tampering.
pub(crate) fn check_entry(
    tx: &rusqlite::Connection,
    ctx: &crate::actor::Ctx,
    id: i64,
) -> Result<()> {
    let (row, signed) = load_entry(tx, id)?;
    ctx.check_statement(
        tx,
        &crate::statement::Claim {
            kind: "roster entry",
            says: entry_says(id, &row),
            needs: crate::permission::Action::RosterApprove,
            what: &format!("the roster entry of {}", row.person),
            by: None,
        },
        signed,
    )
}

pub(crate) fn check_may_receive(
    tx: &Transaction,
    ctx: &crate::actor::Ctx,
    person: &str,
) -> Result<()> {
    let current: Option<i64> = tx
        .query_row(
            "SELECT id FROM roster_entries WHERE roster = 'handler' AND person = ?1 AND ended_at IS NULL",
            [person],
            |r| r.get(0),
        )
        .optional()?;
    let Some(current) = current else {
        return Err(Error::denied(format!(
            "{person} is not on the approved handler roster (情報取扱者名簿); request it with kinko roster request add"
        )));
    };
    check_entry(tx, ctx, current)?;
    let removing: Option<i64> = tx
        .query_row(
            "SELECT id FROM roster_requests WHERE roster = 'handler' AND person = ?1 AND change = 'remove' AND state = 'pending'",
            [person],
            |r| r.get(0),
        )
        .optional()?;
    if removing.is_some() {
        return Err(Error::denied(format!(
            "{person} is being removed from the handler roster"
        )));
    }
    // The end of an entry and a waiting removal are rows: the trail
    // keeps the events that made them.
    crate::trail_facts::check_roster_current(tx, "handler", person, true)
}

/// The current entries of both rosters, each checked against the
/// officer's signed record and opened with the roster key.
pub(crate) fn current_entries(tx: &Transaction, ctx: &crate::actor::Ctx) -> Result<Vec<Entry>> {
    let key = crate::circle::open(tx, ctx, crate::circle::Circle::Roster)?;
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM roster_entries WHERE ended_at IS NULL ORDER BY roster, id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter()
        .map(|id| {
            check_entry(tx, ctx, id)?;
            let (row, _) = load_entry(tx, id)?;
            crate::trail_facts::check_roster_current(tx, &row.roster, &row.person, false)?;
            Ok(Entry {
                roster: row.roster.parse()?,
                person: row.person,
                fields: open_fields(&key, "entry", id, &row.fields)?,
                approved_ref: row.approved_ref,
                approved_date: row.approved_date,
            })
        })
        .collect()
}
