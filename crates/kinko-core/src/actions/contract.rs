//! The end of the contract: the disposal plan (別添1), the bureau's
//! approval of that exact plan, the two-person erasure, the completion
//! report (別添2) and the return package.

use crate::actor::Ctx;
use crate::audit;
use crate::audit::checkpoint::Checkpoint;
use crate::db::meta;
use crate::disposal::confirmation;
use crate::disposal::returning::*;
use crate::disposal::{load_current, require_state, *};
use crate::error::{Error, Result};
use crate::package::{self, Protect};
use crate::permission::Action;
use crate::session::{Done, Session};
use crate::{crypto, fsutil};
use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension, Transaction};
use std::path::Path;

impl Session {
    /// Write the disposal work plan (別添1) for the whole vault or some
    /// documents (officer). A new plan replaces any plan not yet executed,
    /// and with it any approval: the bureau approves one exact plan.
    pub fn disposal_plan(&mut self, req: &PlanRequest) -> Result<PlanFiles> {
        self.perform(Action::DisposalPlan, "disposal", |tx, ctx| {
            if let Some((_, _, state)) = current(tx)? {
                if !matches!(state.as_str(), "draft" | "approved" | "reported") {
                    return Err(Error::denied(format!(
                        "a disposal is under way (plan {state}); finish it before planning another"
                    )));
                }
            }
            if req.executor == req.confirmer {
                return Err(Error::invalid(
                    "the executor and the confirmer must be two different people",
                ));
            }
            let executor = person(tx, req.executor, "executor")?;
            let confirmer = person(tx, req.confirmer, "confirmer")?;
            let (mut items, whole_vault) = inventory(tx, req.items, ctx.replica.is_some())?;
            if req.returned {
                for item in items.iter_mut().filter(|i| i.item.starts_with("document:")) {
                    item.method = METHOD_RETURN.into();
                    item.check = CHECK_RETURN.into();
                }
            }
            tx.execute(
                "UPDATE disposal_plans SET state = 'superseded' WHERE state IN ('draft', 'approved')",
                [],
            )?;
            tx.execute(
                "INSERT INTO disposal_plans (body, body_sha256, made_by, made_at, state) VALUES ('', '', ?1, ?2, 'draft')",
                params![ctx.actor.id, audit::now()],
            )?;
            let id = tx.last_insert_rowid();
            let plan = Plan {
                plan: id,
                vault_id: ctx.vault_id.clone(),
                council: String::from_utf8_lossy(&meta(tx, "council")?).into_owned(),
                made_at: audit::now(),
                made_by: ctx.actor.id.clone(),
                executor,
                confirmer,
                planned_date: match req.planned_date {
                    Some(day) => day,
                    None => {
                        let days = crate::policy::Policy::load(tx)?.number("disposal.plan_days");
                        crate::time::today() + chrono::Duration::days(days as i64)
                    }
                },
                whole_vault,
                returned: req.returned,
                items,
            };
            let body = serde_json::to_string(&plan).expect("a plan serialises");
            let sha = plan_sha256(&body);
            tx.execute(
                "UPDATE disposal_plans SET body = ?1, body_sha256 = ?2 WHERE id = ?3",
                params![body, sha, id],
            )?;
            let signer = crate::signed::Signer::of(ctx)?;
            let html = signer.html("disposal plan", &forms::plan_html(&plan, &sha))?;
            let json = signer.json("disposal plan", &serde_json::json!({"plan": plan, "sha256": sha}))?;
            let detail = format!("plan {id}: {} items sha256={sha}", plan.items.len());
            let mut done = Done::ok(PlanFiles { plan, sha256: sha, html, json }, detail);
            done.object = Some(format!("disposal:{id}"));
            Ok(done)
        })
    }

    /// Record the bureau's approval of the current plan (officer).
    /// `plan_sha256`, when given, must be the SHA-256 of the plan the
    /// bureau approved (printed on the plan), so an approval cannot land
    /// on another plan.
    pub fn disposal_approve(
        &mut self,
        reference: &str,
        date: NaiveDate,
        plan_sha256: &str,
    ) -> Result<i64> {
        self.perform(Action::DisposalApprove, "disposal", |tx, ctx| {
            let reference = reference.trim();
            if reference.is_empty() || reference.chars().count() > 200 || reference.chars().any(char::is_control) {
                return Err(Error::invalid("the approval needs the bureau's reference (one line)"));
            }
            let (plan, sha, state) = load_current(tx)?;
            require_state(&state, &["draft"], "record an approval")?;
            // The bureau approved a printed plan: its SHA-256 is required,
            // so an approval can never land on a later plan.
            let expected = plan_sha256.trim();
            if expected.is_empty() {
                return Err(Error::invalid(
                    "the approval needs the SHA-256 printed on the plan the bureau approved",
                ));
            }
            if !expected.eq_ignore_ascii_case(&sha) {
                return Err(Error::denied(format!(
                    "the current plan ({}, SHA-256 {sha}) is not the plan that was approved ({expected})",
                    plan.plan
                )));
            }
            tx.execute(
                "UPDATE disposal_plans SET state = 'approved', approved_ref = ?1, approved_date = ?2, approved_by = ?3, approved_at = ?4 WHERE id = ?5",
                params![reference, date.to_string(), ctx.actor.id, audit::now(), plan.plan],
            )?;
            sign_approval(tx, &ctx.signer()?, plan.plan)?;
            let mut done = Done::ok(plan.plan, format!("plan {} sha256={sha} ref={reference} date={date}", plan.plan));
            done.object = Some(format!("disposal:{}", plan.plan));
            Ok(done)
        })
    }

    /// The current plan and where it stands.
    pub fn disposal_status(&mut self) -> Result<PlanState> {
        self.perform(Action::DisposalRead, "disposal", |tx, _| {
            let (plan, sha, state) = load_current(tx)?;
            let s = plan_state(tx, plan, sha, state)?;
            Ok(Done::ok(s, ""))
        })
    }

    /// Execute the approved plan (its executor). Resumes an execution that
    /// stopped midway.
    pub fn disposal_execute(&mut self) -> Result<PlanState> {
        self.require(Action::DisposalExecute, "disposal")?;
        // Alone: a reader elsewhere would find object files overwritten
        // under it and take that for tampering.
        let attempt = self.with_vault_alone("kinko disposal execute", |s| s.execute_steps());
        if let Err(e) = &attempt {
            self.log_failure(Action::DisposalExecute.event(), "disposal", e);
        }
        attempt?;
        self.perform(Action::DisposalExecute, "disposal", |tx, ctx| {
            let (plan, sha, state) = load_current(tx)?;
            require_state(&state, &["executing"], "finish the execution")?;
            tx.execute(
                "UPDATE disposal_plans SET state = 'executed', executed_by = ?1, executed_at = ?2 WHERE id = ?3",
                params![ctx.actor.id, audit::now(), plan.plan],
            )?;
            let detail = format!("plan {}: {} items", plan.plan, plan.items.len());
            let s = plan_state(tx, plan, sha, "executed".into())?;
            Ok(Done::ok(s, detail))
        })
    }

    fn execute_steps(&mut self) -> Result<()> {
        let plan = self.begin_execution()?;
        for item in &plan.items {
            if let Some(id) = item.item.strip_prefix("document:") {
                let id: i64 = id
                    .parse()
                    .map_err(|_| Error::tampered("a plan item is malformed"))?;
                self.erase_document(&plan, &item.item, id)?;
            } else if let Some(id) = item.item.strip_prefix("backup:") {
                let id: i64 = id
                    .parse()
                    .map_err(|_| Error::tampered("a plan item is malformed"))?;
                self.erase_backup(&plan, &item.item, id)?;
            }
        }
        if plan.whole_vault {
            self.step(&plan, "keys", "sessions_removed", |tx, ctx| {
                remove_all_sessions(ctx)?;
                crate::backup::remove_stale_snapshots(&ctx.dir)?;
                crate::integrity::remove_rekey_leftover(&ctx.dir)?;
                // Files of killed imports or re-encryptions: ciphertext
                // whose keys some copy might still hold.
                crate::integrity::remove_leftovers(tx, &ctx.objects_dir()).map(drop)
            })?;
            // Rosters and labels are sealed to circle keys: destroying
            // every wrap of them (the custodian's too) leaves them
            // unreadable for anyone, from any copy made from now on.
            self.step(&plan, "keys", "circles_destroyed", |tx, _| {
                tx.execute("DELETE FROM circle_wraps", [])?;
                Ok(())
            })?;
            self.step(&plan, "vault", "disposed", |tx, _| {
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'state'",
                    [b"disposed".to_vec()],
                )?;
                Ok(())
            })?;
        }
        // Clear freed pages out of the WAL and the file (secure_delete is
        // on): nothing of an erased row or key stays on disk.
        // (On a replica these change no row: its guard lets them by.)
        crate::replica::committing(|| {
            self.truncate_wal()?;
            self.conn.execute_batch("VACUUM")?;
            self.truncate_wal()
        })
    }

    /// A checkpoint that could not finish (another process reading) would
    /// leave erased pages in the WAL: then the execution is not done.
    fn truncate_wal(&self) -> Result<()> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(Error::Database(
                "the vault is in use by another process, so its journal could not be cleared: run `disposal execute` again when it is free".into(),
            ));
        }
        Ok(())
    }

    /// Check, under the write lock, that this plan may be executed now by
    /// this person, and mark it executing (after which no new plan can
    /// replace it).
    fn begin_execution(&mut self) -> Result<Plan> {
        let tx = self.ctx.begin_write(&self.conn)?;
        let (plan, _, state) = load_current(&tx)?;
        require_state(&state, &["approved", "executing"], "execute")?;
        check_approval(&tx, &self.ctx, plan.plan)?;
        if plan.executor.id != self.ctx.actor.id {
            return Err(Error::denied(format!(
                "the plan names {} as its executor",
                plan.executor.id
            )));
        }
        if plan.returned {
            let returned: i64 = tx.query_row(
                "SELECT count(*) FROM returns WHERE plan_id = ?1",
                [plan.plan],
                |r| r.get(0),
            )?;
            if returned == 0 {
                return Err(Error::denied(
                    "the plan returns its documents: write the return package first (kinko return)",
                ));
            }
        }
        if state == "approved" {
            // The plan must still list everything: a document imported or
            // exported since it was made needs a new plan and approval.
            let only: Option<Vec<i64>> = (!plan.whole_vault).then(|| {
                plan.items
                    .iter()
                    .filter_map(|i| i.item.strip_prefix("document:")?.parse().ok())
                    .collect()
            });
            let (now, _) = inventory(&tx, only.as_deref(), self.ctx.replica.is_some())?;
            let names = |items: &[PlanItem]| -> Vec<String> {
                items.iter().map(|i| i.item.clone()).collect()
            };
            if names(&now) != names(&plan.items) {
                return Err(Error::denied(
                    "the vault changed since the plan was made (documents or exports were added): make a new plan and have it approved",
                ));
            }
            tx.execute(
                "UPDATE disposal_plans SET state = 'executing' WHERE id = ?1",
                [plan.plan],
            )?;
            self.ctx.append(
                &tx,
                &self.ctx.event(
                    "disposal.step",
                    "plan",
                    audit::OK,
                    &format!("plan {}: started", plan.plan),
                ),
            )?;
        }
        tx.commit()?;
        Ok(plan)
    }

    fn erase_document(&mut self, plan: &Plan, item: &str, id: i64) -> Result<()> {
        // 1. Every wrap of its data key, and its receipt's free text.
        self.step(plan, item, "keys_destroyed", |tx, _| {
            let keys = tx.execute("DELETE FROM wraps WHERE doc_id = ?1", [id])?;
            tx.execute("DELETE FROM export_approvals WHERE doc_id = ?1", [id])?;
            tx.execute("DELETE FROM regrant_pending WHERE doc_id = ?1", [id])?;
            tx.execute(
                "UPDATE documents SET title = '', file_name = '', origin = '', via = '', purpose = '', label_held = NULL, label_catalogue = NULL, erased_at = ?1 WHERE id = ?2",
                params![audit::now(), id],
            )?;
            let _ = keys;
            Ok(())
        })?;
        // 2. The ciphertext itself, overwritten and unlinked.
        let name: String = self.conn.query_row(
            "SELECT object_name FROM documents WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let path = self
            .ctx
            .object_path(&crate::object::ObjectName::parse(&name)?);
        // On a server, the server's copy goes with the step's unit; this
        // terminal's copy (if it fetched one) here.
        self.step_erasing(plan, item, "object_removed", Some(&name), |_, _| {
            fsutil::remove_overwritten(&path)
        })
    }

    /// A backup at its recorded path is overwritten and unlinked; the
    /// record keeps when. A copy kept elsewhere is outside Kinko's reach:
    /// the plan's row tells the executor to erase it and the confirmer to
    /// witness that.
    fn erase_backup(&mut self, plan: &Plan, item: &str, id: i64) -> Result<()> {
        let (path, uid): (String, String) =
            self.conn
                .query_row("SELECT path, uid FROM backups WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        self.step(plan, item, "backup_removed", |tx, _| {
            let path = std::path::Path::new(&path);
            // Only the backup itself: a record edited to name another file
            // cannot make the execution overwrite it.
            for file in [path.to_path_buf(), crate::backup::partial_path(path)] {
                if crate::backup::is_backup(&file, &uid) {
                    fsutil::remove_overwritten(&file)?;
                }
            }
            tx.execute(
                "UPDATE backups SET destroyed_at = ?1 WHERE id = ?2",
                params![audit::now(), id],
            )?;
            Ok(())
        })
    }

    /// Do one step once: skipped if already recorded, else done and
    /// recorded (with its `disposal.step` event) in one transaction. A
    /// step outside the database (a file) is done before the record, and
    /// is idempotent, so a crash between them only repeats it.
    fn step(
        &mut self,
        plan: &Plan,
        item: &str,
        step: &str,
        work: impl FnOnce(&Transaction, &Ctx) -> Result<()>,
    ) -> Result<()> {
        self.step_erasing(plan, item, step, None, work)
    }

    /// [`Session::step`]; on a vault an office server holds, the object
    /// `erase` is erased at the server with the step's unit.
    fn step_erasing(
        &mut self,
        plan: &Plan,
        item: &str,
        step: &str,
        erase: Option<&str>,
        work: impl FnOnce(&Transaction, &Ctx) -> Result<()>,
    ) -> Result<()> {
        let tx = self.ctx.begin_write(&self.conn)?;
        let done: bool = tx
            .query_row(
                "SELECT 1 FROM disposal_steps WHERE plan_id = ?1 AND item = ?2 AND step = ?3",
                params![plan.plan, item, step],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if done {
            return Ok(());
        }
        work(&tx, &self.ctx)?;
        tx.execute(
            "INSERT INTO disposal_steps (plan_id, item, step, at) VALUES (?1, ?2, ?3, ?4)",
            params![plan.plan, item, step, audit::now()],
        )?;
        self.ctx.append(
            &tx,
            &self.ctx.event(
                "disposal.step",
                item,
                audit::OK,
                &format!("plan {}: {step}", plan.plan),
            ),
        )?;
        match erase {
            Some(name) => tx.commit_erasing(name),
            None => tx.commit(),
        }
    }

    /// Confirm the execution (the plan's confirmer, not its executor): try
    /// every item with the confirmer's key and the custodian's (the
    /// recovery code), and record what was tried and found.
    pub fn disposal_confirm(&mut self, recovery_code: Option<&str>) -> Result<PlanState> {
        self.perform(Action::DisposalConfirm, "disposal", |tx, ctx| {
            let (plan, sha, state) = load_current(tx)?;
            require_state(&state, &["executed"], "confirm")?;
            check_approval(tx, ctx, plan.plan)?;
            let executed_by: Option<String> = tx.query_row(
                "SELECT executed_by FROM disposal_plans WHERE id = ?1",
                [plan.plan],
                |r| r.get(0),
            )?;
            // The row is checked against the trail's execute event, so
            // rewriting it cannot make the executor their own witness.
            let executed_by =
                crate::trail_facts::executor_of(tx, plan.plan, executed_by.as_deref())?;
            if ctx.actor.id == executed_by {
                return Err(Error::denied(
                    "the person who executed the disposal cannot also confirm it",
                ));
            }
            if plan.confirmer.id != ctx.actor.id {
                return Err(Error::denied(format!(
                    "the plan names {} as its confirmer",
                    plan.confirmer.id
                )));
            }
            // E3: every item is tried with every key that remains here:
            // the confirmer's own and the custodian's.
            let code = recovery_code.ok_or_else(|| {
                Error::invalid(
                    "the confirmation tries the custodian's key too: give the recovery code (at the terminal, or $KINKO_RECOVERY_CODE)",
                )
            })?;
            let custodian = crate::vault::parse_recovery_code(code)?;
            if crypto::HpkeKeyPair::public_of(&custodian)? != ctx.custodian_public {
                return Err(Error::denied(
                    "that recovery code does not belong to this vault",
                ));
            }
            let keys = Tries {
                confirmer: &ctx.actor.id,
                own: &ctx.secrets.hpke_secret,
                custodian: &custodian,
            };
            let checks = verify_items(tx, ctx, &plan, &keys)?;
            if plan.whole_vault {
                let left: Option<i64> = tx.query_row(
                    "SELECT min(id) FROM documents WHERE erased_at IS NULL",
                    [],
                    |r| r.get(0),
                )?;
                if let Some(id) = left {
                    return Err(Error::denied(format!(
                        "document {id} is still in the vault (it came in during the disposal): plan and erase it too"
                    )));
                }
            }
            if let Some(bad) = checks.iter().find(|c| !c.erased) {
                return Err(Error::tampered(format!(
                    "{} is not erased (keys left: {}, object file present: {}, readable: {})",
                    bad.item, bad.keys_left, bad.object_present, bad.readable
                )));
            }
            let today = chrono::Utc::now()
                .with_timezone(&crate::time::japan())
                .date_naive();
            let audit = Checkpoint::make(tx, &ctx.signer()?)?;
            tx.execute(
                "UPDATE disposal_plans SET state = 'confirmed', confirmed_by = ?1, confirmed_at = ?2, completed_date = ?3, verification = ?4, audit_size = ?5 WHERE id = ?6",
                params![
                    ctx.actor.id,
                    audit::now(),
                    today.to_string(),
                    serde_json::to_string(&checks).expect("serialises"),
                    audit.size as i64,
                    plan.plan
                ],
            )?;
            // The confirmer's own signature of what they found, for 別添2.
            confirmation::sign(
                tx,
                &ctx.signer()?,
                plan.plan,
                confirmation::KIND,
                confirmation::says(
                    plan.plan,
                    &sha,
                    &today.to_string(),
                    &checks,
                    audit.size,
                    &audit.root,
                ),
            )?;
            let detail = format!("plan {}: {} items verified unreadable", plan.plan, checks.len());
            let s = plan_state(tx, plan, sha, "confirmed".into())?;
            Ok(Done::ok(s, detail))
        })
    }

    /// Write the completion report (別添2), signed (officer).
    pub fn disposal_report(&mut self) -> Result<ReportFiles> {
        self.perform(Action::DisposalReport, "disposal", |tx, ctx| {
            let (plan, sha, state) = load_current(tx)?;
            require_state(&state, &["confirmed", "reported"], "report")?;
            check_approval(tx, ctx, plan.plan)?;
            let s = plan_state(tx, plan.clone(), sha.clone(), state)?;
            let executed_by =
                crate::trail_facts::executor_of(tx, plan.plan, s.executed_by.as_deref())?;
            let confirmed_at = s.confirmed_at.clone().unwrap_or_default();
            // The tree as it stood when the disposal was confirmed.
            let size: Option<i64> = tx.query_row(
                "SELECT audit_size FROM disposal_plans WHERE id = ?1",
                [plan.plan],
                |r| r.get(0),
            )?;
            let audit = size
                .map(|n| Checkpoint::stored(tx, &ctx.vault_id, n as u64))
                .transpose()?
                .flatten()
                .ok_or_else(|| Error::tampered("the checkpoint made at confirmation is missing"))?;
            let completed_date = s
                .completed_date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| Error::tampered("the completion date is missing"))?;
            let seal = confirmation::seal(tx, ctx, plan.plan)?;
            let completion = Completion {
                plan,
                plan_sha256: sha,
                approved_ref: s.approved_ref.clone().unwrap_or_default(),
                approved_date: s.approved_date.clone().unwrap_or_default(),
                executed_by,
                executed_at: s.executed_at.clone().unwrap_or_default(),
                confirmed_by: s.confirmed_by.clone().unwrap_or_default(),
                confirmed_at,
                completed_date,
                checks: s.checks.clone(),
                audit,
                confirmation: Some(seal),
            };
            let signer = crate::signed::Signer::of(ctx)?;
            let html = signer.html("completion report", &forms::report_html(&completion))?;
            let json = signer.json("completion report", &completion)?;
            tx.execute(
                "UPDATE disposal_plans SET state = 'reported' WHERE id = ?1",
                [completion.plan.plan],
            )?;
            let detail = format!(
                "plan {} completed {} audit root {}",
                completion.plan.plan, completion.completed_date, completion.audit.root
            );
            Ok(Done::ok(
                ReportFiles {
                    completion,
                    html,
                    json,
                },
                detail,
            ))
        })
    }
}

impl Session {
    /// Write the return package of the approved plan's documents to `out`
    /// (officer). `recovery_code` opens documents the officer holds no
    /// grant of.
    pub fn return_package(
        &mut self,
        protect: Protect,
        recovery_code: Option<&str>,
        out: &Path,
    ) -> Result<ReturnReceipt> {
        let existed = out.exists();
        let result = self.perform(Action::ReturnPackage, "disposal", |tx, ctx| {
            let (plan, _, state) = load_current(tx)?;
            require_state(&state, &["approved"], "write the return package")?;
            check_approval(tx, ctx, plan.plan)?;
            if !plan.returned {
                return Err(Error::field(
                    "return",
                    "the approved plan erases its items without returning them (make a plan that returns them)",
                ));
            }
            let custodian = custodian_secret(tx, recovery_code)?;
            let mut sources = Vec::new();
            for item in &plan.items {
                if let Some(id) = item.item.strip_prefix("document:") {
                    let id: i64 = id
                        .parse()
                        .map_err(|_| Error::tampered("a plan item is malformed"))?;
                    sources.push(source(tx, ctx, id, custodian.as_deref())?);
                }
            }
            let protection = match protect {
                Protect::Recipient(public) => format!(
                    "recipient key {}",
                    crypto::hex(&crypto::sha256(public))
                ),
                Protect::Passphrase(_) => "passphrase".to_string(),
            };
            let council = String::from_utf8_lossy(&meta(tx, "council")?).into_owned();
            let files = sources.len();
            let digest = package::write(out, &ctx.vault_id, &council, &ctx.actor.id, protect, sources)?;
            tx.execute(
                "INSERT INTO returns (plan_id, made_by, made_at, package_sha256, protection, files) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![plan.plan, ctx.actor.id, crate::audit::now(), digest, protection, files as i64],
            )?;
            let detail = format!("plan {}: {files} files, {protection}, sha256={digest}", plan.plan);
            Ok(Done::ok(
                ReturnReceipt { plan: plan.plan, files, package_sha256: digest, protection },
                detail,
            ))
        });
        // No package without its event: a package written by an action
        // that then failed is taken back.
        if result.is_err() && !existed && out.exists() {
            let _ = crate::fsutil::remove_overwritten(out);
        }
        result
    }
}
