//! Oversight: the audit trail (log, proof, verify, checkpoint, archive,
//! report), alerts, the vault check, incidents and the monthly status
//! report.

use crate::audit;
use crate::audit::alerts::{self, Alert};
use crate::audit::report::{self, *};
use crate::audit::retention::*;
use crate::audit::{Record, *};
use crate::crypto::{self, stream};
use crate::document::{load_doc, load_wrap, unwrap_own_dek};
use crate::error::{Error, Result};
use crate::incident::*;
use crate::integrity::*;
use crate::permission::Action;
use crate::session::{Done, Session};
use crate::status_report::*;
use chrono::{NaiveDate, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::HashSet;
use std::path::Path;

impl Session {
    /// Read the audit trail (officer and auditor only). Reading is itself
    /// an event.
    pub fn audit_log(&mut self, q: &Query) -> Result<Vec<Record>> {
        let object = "audit";
        self.perform(crate::permission::Action::AuditRead, object, |tx, _| {
            let records = query(tx, q)?;
            Ok(Done::ok(records, ""))
        })
    }

    /// Recompute the whole trail and check it against every stored
    /// checkpoint and, if given, one kept apart (officer, auditor). A
    /// trail that verifies gets a fresh stored checkpoint.
    pub fn audit_verify(
        &mut self,
        kept: Option<&checkpoint::Checkpoint>,
    ) -> Result<verify::TrailReport> {
        let object = kept.map_or("audit".to_string(), |c| format!("checkpoint:{}", c.size));
        // On an office server, the terminals it lists: asked before the
        // write turn, which the office's other terminals wait for.
        let listed = match &self.ctx.replica {
            Some(replica) => Some((
                replica.upstream().terminals()?,
                replica.upstream().erased()?,
            )),
            None => None,
        };
        self.perform(
            crate::permission::Action::AuditVerify,
            &object,
            |tx, ctx| {
                let before = ctx.verified_head()?;
                let mut report = verify::verify_trail(
                    tx,
                    &ctx.vault_id,
                    &ctx.root_public,
                    kept,
                    before.as_ref(),
                )?;
                // On an office server: every terminal a unit approved has
                // its signed approval in the trail.
                // And every object it erased, a signed disposal step.
                if let Some((terminals, erased)) = &listed {
                    report.terminals = Some(crate::terminal_approval::check(
                        tx,
                        &ctx.vault_id,
                        &ctx.root_public,
                        terminals,
                    )?);
                    crate::disposal::check_erased(tx, ctx, erased)?;
                }
                // Every signature up to here is checked: the next verify
                // on this terminal starts from it.
                ctx.remember(tx, Some(crate::witness::head_now(tx)?))?;
                checkpoint::Checkpoint::make(tx, &ctx.signer()?)?;
                let detail = format!("events={} root={}", report.events, report.root);
                Ok(Done::ok(report, detail))
            },
        )
    }

    /// Sign a checkpoint of the tree as it is now, to keep apart
    /// (officer, auditor).
    pub fn audit_checkpoint(&mut self) -> Result<checkpoint::Checkpoint> {
        self.perform(
            crate::permission::Action::AuditCheckpoint,
            "audit",
            |tx, ctx| {
                let c = checkpoint::Checkpoint::make(tx, &ctx.signer()?)?;
                let detail = format!("size={} root={}", c.size, c.root);
                Ok(Done::ok(c, detail))
            },
        )
    }

    /// One event and the proof that it is in the tree, as signed in a
    /// checkpoint made now (officer, auditor).
    pub fn audit_proof(&mut self, seq: i64) -> Result<EventProof> {
        let object = format!("event:{seq}");
        self.perform(crate::permission::Action::AuditRead, &object, |tx, ctx| {
            let c = checkpoint::Checkpoint::make(tx, &ctx.signer()?)?;
            c.check_signature()?;
            let p = prove(tx, seq, c.size, c.root_hash()?)?;
            Ok(Done::ok(p, format!("checkpoint size={}", c.size)))
        })
    }
}

impl Session {
    /// List alerts (officer, manager, auditor).
    pub fn alerts(&mut self, all: bool) -> Result<Vec<Alert>> {
        self.perform(crate::permission::Action::AlertRead, "alerts", |tx, _| {
            let found = alerts::list(tx, all)?;
            Ok(Done::ok(found, if all { "all" } else { "open" }))
        })
    }

    /// Alerts raised since alert `after` and not yet acknowledged, oldest
    /// first, for a watcher (`kinko alerts --follow`, the app's badge):
    /// `after` 0 gives every open alert (what waits at sign-in). Nothing
    /// new reads nothing and writes nothing; what is handed over is logged
    /// like a listing. A watch is no activity: the session still goes idle
    /// and ends as any other, and the watcher is told so.
    pub fn watch_alerts(&mut self, after: i64) -> Result<Vec<Alert>> {
        use crate::permission::Action::AlertRead;
        // The checks `perform` makes, without its write.
        let waiting = self
            .check_live()
            .and_then(|_| self.follow_certificate())
            .and_then(|_| crate::permission::check(&self.actor().roles, AlertRead))
            .and_then(|_| self.check_restriction(AlertRead))
            .and_then(|_| alerts::open_after(&self.conn, after));
        match waiting {
            Err(e) => {
                self.log_failure(AlertRead.event(), "alerts", &e);
                return Err(e);
            }
            Ok(found) if found.is_empty() => return Ok(found),
            Ok(_) => {}
        }
        self.perform_unattended(AlertRead, "alerts", |tx, _| {
            let found = alerts::open_after(tx, after)?;
            let detail = format!("new since {after}: {}", found.len());
            Ok(Done::ok(found, detail))
        })
    }

    /// Acknowledge an alert with a note (officer, manager).
    pub fn alert_ack(&mut self, id: i64, note: &str) -> Result<()> {
        let note = note.trim();
        let object = format!("alert:{id}");
        self.perform(crate::permission::Action::AlertAck, &object, |tx, ctx| {
            if note.is_empty() || note.chars().count() > 1000 || note.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    "an acknowledgement needs a note of one line (up to 1,000 characters)",
                ));
            }
            let found: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT actor, acked_by FROM alerts WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match found {
                None => return Err(Error::NotFound(format!("alert {id}"))),
                Some((about, _)) if about == ctx.actor.id => {
                    return Err(Error::denied(
                        "an alert about yourself must be acknowledged by someone else",
                    ))
                }
                Some((_, Some(by))) => {
                    return Err(Error::invalid(format!(
                        "alert {id} was already acknowledged by {by}"
                    )))
                }
                Some((_, None)) => {}
            }
            tx.execute(
                "UPDATE alerts SET acked_by = ?1, acked_at = ?2, ack_note = ?3 WHERE id = ?4",
                params![ctx.actor.id, audit::now(), note, id],
            )?;
            Ok(Done::ok((), format!("note: {note}")))
        })
    }
}

impl Session {
    /// Archive events older than `before` and the retention period to
    /// `out`, then drop them from the vault (officer).
    pub fn audit_archive(&mut self, before: NaiveDate, out: &Path) -> Result<ArchiveSummary> {
        self.perform(
            crate::permission::Action::AuditArchive,
            "audit",
            |tx, ctx| {
                let s = archive(
                    tx,
                    &ctx.signer()?,
                    &ctx.root_public,
                    before,
                    Utc::now(),
                    out,
                )?;
                let detail = format!("events {}–{} sha256={}", s.first, s.last, s.file_sha256);
                Ok(Done::ok(s, detail))
            },
        )
    }
}

impl Session {
    /// Count the trail of the Japan days `from` to `to` (officer, auditor).
    pub fn audit_report(&mut self, from: NaiveDate, to: NaiveDate) -> Result<AuditReport> {
        self.perform(
            crate::permission::Action::AuditReport,
            "audit",
            |tx, ctx| {
                let council =
                    String::from_utf8_lossy(&crate::db::meta(tx, "council")?).into_owned();
                let report = report::build(
                    tx,
                    &Period {
                        from,
                        to,
                        council: &council,
                        vault_id: &ctx.vault_id,
                        made_by: &ctx.actor.id,
                    },
                    &ctx.signer()?,
                )?;
                let detail = format!("{from} to {to}: {} events", report.events);
                Ok(Done::ok(report, detail))
            },
        )
    }
}

impl Session {
    /// Check every object and the database; damage is listed item by item.
    pub fn verify(&mut self, deep: bool) -> Result<VerifyReport> {
        self.perform(Action::VaultVerify, "vault", |tx, ctx| {
            let mut report = VerifyReport {
                documents_checked: 0,
                documents_decrypted: 0,
                audit_events_checked: 0,
                damaged: Vec::new(),
                leftovers: Vec::new(),
            };
            let db_problems: Vec<String> = tx
                .prepare("PRAGMA cipher_integrity_check")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            for p in db_problems {
                report.damaged.push(Damage {
                    item: "database".into(),
                    problem: p,
                });
            }
            let quick: String = tx.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if quick != "ok" {
                report.damaged.push(Damage {
                    item: "database".into(),
                    problem: quick,
                });
            }
            let before = ctx.verified_head()?;
            match audit::verify::verify_trail(
                tx,
                &ctx.vault_id,
                &ctx.root_public,
                None,
                before.as_ref(),
            ) {
                Ok(t) => {
                    report.audit_events_checked = t.events;
                    ctx.remember(tx, Some(crate::witness::head_now(tx)?))?;
                }
                Err(e) => report.damaged.push(Damage {
                    item: "audit trail".into(),
                    problem: e.to_string(),
                }),
            }
            let ids: Vec<i64> = tx
                .prepare("SELECT id FROM documents WHERE erased_at IS NULL ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut known = HashSet::new();
            for id in ids {
                let doc = load_doc(tx, id)?;
                known.insert(doc.object_name.to_string());
                report.documents_checked += 1;
                // On a replica, fetched first; one the server cannot give
                // is then reported missing like any other.
                let path = ctx
                    .object_to_read(&doc.object_name)
                    .unwrap_or_else(|_| ctx.object_path(&doc.object_name));
                if let Err(problem) =
                    check_object_file(&path, &doc.object_sha256, &doc.uid, doc.version)
                {
                    report.damaged.push(Damage {
                        item: format!("document {id}"),
                        problem,
                    });
                    continue;
                }
                let facts = crate::document::check_receipt(tx, ctx, &doc).and_then(|_| {
                    crate::document::checked_holders(tx, ctx, id, &doc.uid).map(drop)
                });
                match facts {
                    Err(Error::Tampered(problem)) => {
                        report.damaged.push(Damage {
                            item: format!("document {id}"),
                            problem,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
                if deep && load_wrap(tx, id, &ctx.actor.id)?.is_some() {
                    let dek = unwrap_own_dek(tx, ctx, &doc)?;
                    let mut f = std::io::BufReader::new(
                        std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?,
                    );
                    match stream::decrypt(&dek, doc.uid, doc.version, &mut f, &mut std::io::sink())
                    {
                        Ok(d) if crypto::hex(&d.sha256) == doc.sha256 => {
                            report.documents_decrypted += 1
                        }
                        Ok(_) => report.damaged.push(Damage {
                            item: format!("document {id}"),
                            problem: "plaintext does not match its recorded SHA-256".into(),
                        }),
                        Err(_) => report.damaged.push(Damage {
                            item: format!("document {id}"),
                            problem: "does not decrypt".into(),
                        }),
                    }
                }
            }
            // Every approval still in force must be the officer's record.
            let approved: Vec<i64> = tx
                .prepare("SELECT id FROM disposal_plans WHERE approved_ref IS NOT NULL AND state != 'superseded' ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for plan in approved {
                match crate::disposal::check_approval(tx, ctx, plan) {
                    Err(Error::Tampered(problem)) => report.damaged.push(Damage {
                        item: format!("disposal plan {plan}"),
                        problem,
                    }),
                    Err(e) => return Err(e),
                    Ok(()) => {}
                }
            }
            // Every confirmation must be the confirmer's own signature.
            let confirmed: Vec<i64> = tx
                .prepare("SELECT id FROM disposal_plans WHERE state IN ('confirmed', 'reported') ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for plan in confirmed {
                match crate::disposal::confirmation::check_stored(tx, ctx, plan) {
                    Err(Error::Tampered(problem)) => report.damaged.push(Damage {
                        item: format!("disposal plan {plan}"),
                        problem,
                    }),
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
            }
            report.leftovers = leftovers(&ctx.objects_dir(), &known)?;
            let outcome = if report.is_intact() {
                audit::OK
            } else {
                audit::TAMPERED
            };
            let detail = format!(
                "documents={} audit_events={} damaged={}",
                report.documents_checked,
                report.audit_events_checked,
                report
                    .damaged
                    .iter()
                    .map(|d| d.item.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let mut done = Done::ok(report, detail);
            done.outcome = outcome;
            Ok(done)
        })
    }
}

impl Session {
    /// Record a new incident (officer, manager).
    pub fn incident_add(&mut self, f: &IncidentFields) -> Result<i64> {
        self.perform(Action::IncidentRecord, "incident:new", |tx, ctx| {
            let detected = parse_time(
                f.detected_at
                    .as_deref()
                    .ok_or_else(|| Error::field("detected", "an incident needs the time it was detected"))?,
            )?;
            let summary = text(
                f.summary
                    .as_deref()
                    .ok_or_else(|| Error::field("summary", "an incident needs a summary (what happened)"))?,
                "summary",
                4000,
            )?;
            if summary.is_empty() {
                return Err(Error::field("summary", "an incident needs a summary (what happened)"));
            }
            let reported = f.reported_at.as_deref().map(parse_time).transpose()?;
            tx.execute(
                "INSERT INTO incidents (detected_at, reported_at, summary, items, actions, improvement, opened_by, opened_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    detected,
                    reported,
                    summary,
                    items_text(f.items.as_deref().unwrap_or_default())?,
                    text(f.actions.as_deref().unwrap_or_default(), "actions", 8000)?,
                    text(f.improvement.as_deref().unwrap_or_default(), "improvement_plan", 8000)?,
                    ctx.actor.id,
                    audit::now()
                ],
            )?;
            let id = tx.last_insert_rowid();
            record_update(tx, id, &ctx.actor.id, "recorded")?;
            let mut done = Done::ok(id, format!("detected {detected}"));
            done.object = Some(format!("incident:{id}"));
            Ok(done)
        })
    }

    /// Change an open incident; actions given are added to those before.
    pub fn incident_update(&mut self, id: i64, f: &IncidentFields) -> Result<Incident> {
        self.perform(
            Action::IncidentRecord,
            &format!("incident:{id}"),
            |tx, ctx| {
                let before = load(tx, id)?;
                if before.closed_at.is_some() {
                    return Err(Error::invalid(format!("incident {id} is closed")));
                }
                // Each change is kept with what it replaced, so nothing
                // (a late report to the bureau, say) can be rewritten
                // without trace. The audit event names only the fields.
                let mut fields = Vec::new();
                let mut history = Vec::new();
                let mut set =
                    |column: &str, label: &'static str, old: String, new: String| -> Result<()> {
                        tx.execute(
                            &format!("UPDATE incidents SET {column} = ?1 WHERE id = ?2"),
                            params![new, id],
                        )?;
                        history.push(format!("{label}: {old} → {new}"));
                        fields.push(label);
                        Ok(())
                    };
                if let Some(t) = &f.detected_at {
                    set(
                        "detected_at",
                        "detected",
                        before.detected_at.clone(),
                        parse_time(t)?,
                    )?;
                }
                if let Some(t) = &f.reported_at {
                    let old = before.reported_at.clone().unwrap_or_else(|| "-".into());
                    set("reported_at", "reported to the bureau", old, parse_time(t)?)?;
                }
                if let Some(v) = &f.summary {
                    set(
                        "summary",
                        "summary",
                        before.summary.clone(),
                        text(v, "summary", 4000)?,
                    )?;
                }
                if let Some(items) = &f.items {
                    set("items", "items", before.items.join(","), items_text(items)?)?;
                }
                if let Some(a) = &f.actions {
                    let a = text(a, "actions", 8000)?;
                    let joined = if before.actions.is_empty() {
                        a
                    } else {
                        format!("{}\n{a}", before.actions)
                    };
                    set("actions", "actions", before.actions.clone(), joined)?;
                }
                if let Some(v) = &f.improvement {
                    let new = text(v, "improvement_plan", 8000)?;
                    set(
                        "improvement",
                        "improvement plan",
                        before.improvement.clone(),
                        new,
                    )?;
                }
                if fields.is_empty() {
                    return Err(Error::invalid("nothing to update: give at least one field"));
                }
                record_update(tx, id, &ctx.actor.id, &history.join("\n"))?;
                let what = fields.join(", ");
                Ok(Done::ok(load(tx, id)?, what))
            },
        )
    }

    /// Close an incident with a note (officer, manager).
    pub fn incident_close(&mut self, id: i64, note: &str) -> Result<()> {
        self.perform(Action::IncidentRecord, &format!("incident:{id}"), |tx, ctx| {
            let before = load(tx, id)?;
            if before.closed_at.is_some() {
                return Err(Error::invalid(format!("incident {id} is closed already")));
            }
            let note = text(note, "note", 4000)?;
            if note.is_empty() {
                return Err(Error::field("note", "closing an incident needs a note"));
            }
            if before.reported_at.is_none() {
                return Err(Error::field(
                    "reported",
                    format!("incident {id} was never reported to the bureau: record when it was reported first"),
                ));
            }
            tx.execute(
                "UPDATE incidents SET closed_by = ?1, closed_at = ?2, close_note = ?3 WHERE id = ?4",
                params![ctx.actor.id, audit::now(), note, id],
            )?;
            record_update(tx, id, &ctx.actor.id, "closed")?;
            Ok(Done::ok((), "closed"))
        })
    }

    /// The register (officer, manager, auditor).
    pub fn incidents(&mut self, all: bool) -> Result<Vec<Incident>> {
        self.perform(Action::IncidentRead, "incidents", |tx, _| {
            Ok(Done::ok(
                crate::incident::list(tx, all)?,
                if all { "all" } else { "open" },
            ))
        })
    }

    /// The register as a printable page for the bureau (officer, manager,
    /// auditor).
    pub fn incident_report(&mut self) -> Result<String> {
        self.perform(Action::IncidentRead, "incidents", |tx, _| {
            let council = String::from_utf8_lossy(&crate::db::meta(tx, "council")?).into_owned();
            let all = crate::incident::list(tx, true)?;
            Ok(Done::ok(
                report_html(&council, &all),
                format!("{} incidents", all.len()),
            ))
        })
    }
}

impl Session {
    /// The 履行状況報告 of one month, signed (officer).
    pub fn status_report(&mut self, month: &str) -> Result<StatusFiles> {
        self.perform(
            Action::StatusReport,
            &format!("report:{}", month.trim()),
            |tx, ctx| {
                let report = crate::status_report::build(tx, &ctx.signer()?, month)?;
                let signer = crate::signed::Signer::of(ctx)?;
                let page = signer.html("status report", &crate::status_report::html(&report))?;
                let detail = format!("{}: {} people", report.month, report.access.len());
                Ok(Done::ok(StatusFiles { report, html: page }, detail))
            },
        )
    }
}
