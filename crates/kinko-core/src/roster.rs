//! The handler roster (情報取扱者名簿, P2) and the worker roster
//! (業務従事者名簿, P3), and their changes (P4): a manager requests, the
//! officer records the bureau's approval (reference, date), and only then
//! does the change take effect. A removal ends the person's access to
//! every document at once, before any approval. Documents are granted only
//! to people on the approved, current handler roster.
//!
//! Both rosters are personal data: they live in the encrypted database and
//! only the officer and managers can read or export them.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::account::{validate_id, validate_text};
use crate::audit;
use crate::error::{Error, Result};
use crate::permission::{Action, Roles};
use crate::session::{Done, Session};

/// Which roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    fn check(&self, roster: Roster) -> Result<()> {
        validate_text("name", &self.name, 200)?;
        validate_text("department", &self.department, 200)?;
        validate_text("position", &self.position, 200)?;
        let optional = [
            ("address", &self.address),
            ("duty", &self.duty),
            ("organisation", &self.organisation),
            ("education", &self.education),
            ("work history", &self.work_history),
            ("experience", &self.experience),
            ("training", &self.training),
            ("expertise", &self.expertise),
            ("native language", &self.native_language),
            ("foreign languages", &self.foreign_languages),
            ("nationality", &self.nationality),
        ];
        for (field, value) in optional {
            if let Some(v) = value {
                validate_text(field, v, 1000)?;
            }
        }
        if let Some(b) = &self.birth_date {
            chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| {
                Error::invalid(format!("date of birth '{b}' is not a date like 1980-04-01"))
            })?;
        }
        let missing =
            |what: &str| Error::invalid(format!("the {} needs {what}", roster.title_ja()));
        match roster {
            Roster::Handler => {
                self.address.as_ref().ok_or_else(|| missing("--address"))?;
                self.birth_date
                    .as_ref()
                    .ok_or_else(|| missing("--birth-date"))?;
            }
            Roster::Worker => {
                for (flag, v) in [
                    ("--education", &self.education),
                    ("--work-history", &self.work_history),
                    ("--nationality", &self.nationality),
                    ("--native-language", &self.native_language),
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
pub(crate) fn check_may_receive(tx: &Transaction, person: &str) -> Result<()> {
    let current: Option<i64> = tx
        .query_row(
            "SELECT id FROM roster_entries WHERE roster = 'handler' AND person = ?1 AND ended_at IS NULL",
            [person],
            |r| r.get(0),
        )
        .optional()?;
    if current.is_none() {
        return Err(Error::denied(format!(
            "{person} is not on the approved handler roster (情報取扱者名簿); request it with kinko roster request add"
        )));
    }
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
    Ok(())
}

fn parse_fields(json: Option<String>) -> Result<Option<RosterFields>> {
    json.map(|j| {
        serde_json::from_str(&j).map_err(|_| Error::tampered("a roster record is damaged"))
    })
    .transpose()
}

impl Session {
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
            let json = serde_json::to_string(fields).expect("serialises");
            tx.execute(
                "INSERT INTO roster_requests (roster, change, person, fields, requested_by, requested_at, state)
                 VALUES (?1, 'add', ?2, ?3, ?4, ?5, 'pending')",
                params![roster.as_str(), person, json, ctx.actor.id, audit::now()],
            )?;
            let id = tx.last_insert_rowid();
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
            Ok(Done::ok(id, format!("request={id} remove; {revoked} grants ended at once")))
        })
    }

    /// Record the bureau's approval of a request (officer): only now does
    /// it take effect.
    pub fn roster_approve(&mut self, request: i64, reference: &str, date: &str) -> Result<()> {
        let object = format!("roster-request:{request}");
        self.perform(Action::RosterApprove, &object, |tx, ctx| {
            validate_text("--ref", reference, 200)?;
            let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| Error::invalid(format!("--date '{date}' is not a date like 2026-04-01")))?;
            let row: Option<(String, String, String, Option<String>, String)> = tx
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
                tx.execute(
                    "INSERT INTO roster_entries (roster, person, fields, approved_ref, approved_date, approved_by, approved_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![roster, person, fields, reference, date.to_string(), ctx.actor.id, now],
                )?;
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
        self.perform(Action::RosterRead, "rosters", |tx, _| {
            let entries = current_entries(tx)?;
            let mut stmt = tx.prepare(
                "SELECT id, roster, change, person, requested_by, requested_at, fields FROM roster_requests
                 WHERE state = 'pending' ORDER BY id",
            )?;
            let raw = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                })?
                .collect::<rusqlite::Result<Vec<(i64, String, String, String, String, String, Option<String>)>>>()?;
            let mut requests = Vec::new();
            for (id, roster, change, person, requested_by, requested_at, fields) in raw {
                requests.push(Request {
                    id,
                    roster: roster.parse()?,
                    change,
                    person,
                    requested_by,
                    requested_at,
                    fields: parse_fields(fields)?,
                });
            }
            Ok(Done::ok((entries, requests), ""))
        })
    }

    /// Both rosters as the documents the council submits: printable HTML
    /// (Japanese, 令和 dates) and CSV. A logged export of personal data.
    pub fn roster_export(&mut self) -> Result<crate::forms::RosterExport> {
        self.perform(Action::RosterExport, "rosters", |tx, ctx| {
            let entries = current_entries(tx)?;
            let council =
                String::from_utf8_lossy(&crate::session::meta(tx, "council")?).into_owned();
            let export = crate::forms::rosters(&council, &entries, &ctx.actor.name)?;
            Ok(Done::ok(export, format!("{} entries", entries.len())))
        })
    }
}

fn current_entries(tx: &Transaction) -> Result<Vec<Entry>> {
    let mut stmt = tx.prepare(
        "SELECT roster, person, fields, approved_ref, approved_date FROM roster_entries
         WHERE ended_at IS NULL ORDER BY roster, id",
    )?;
    let raw = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<(String, String, String, String, String)>>>()?;
    raw.into_iter()
        .map(|(roster, person, fields, approved_ref, approved_date)| {
            Ok(Entry {
                roster: roster.parse()?,
                person,
                fields: parse_fields(Some(fields))?.unwrap_or_default(),
                approved_ref,
                approved_date,
            })
        })
        .collect()
}
