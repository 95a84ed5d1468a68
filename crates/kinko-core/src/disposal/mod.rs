//! Contract end (E1–E4, E6): the disposal work plan (別添1), the bureau's
//! approval of that exact plan, execution by one person, confirmation by
//! another, and the signed completion report (別添2).
//!
//! ```text
//! plan (officer) → approve (officer: bureau ref + date) → execute (the
//! plan's executor) → confirm (the plan's confirmer, another person)
//! → report (officer)
//! ```
//!
//! Erasing a document is cryptographic: every wrap of its data key is
//! deleted (grants and the custodian's), its receipt's free text is
//! cleared, its object file is overwritten and unlinked, and afterwards the
//! database is checkpointed (`wal_checkpoint(TRUNCATE)`) and `VACUUM`ed
//! with `secure_delete` on. Each step is recorded as it is done, so an
//! execution that stops midway resumes where it stopped; the report states
//! only what the confirmer's verification found.
//!
//! The audit trail survives disposal and still verifies (E6).

pub mod forms;
pub mod returning;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::audit::{self, checkpoint::Checkpoint};
use crate::crypto;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::permission::Action;
use crate::session::{meta, Ctx, Done, Session};
use crate::signed::AuditKey;

/// What the form's table holds for each item.
pub const KIND_ELECTRONIC: &str = "電磁的記録媒体";
pub const LOCATION_VAULT: &str = "端末（Kinko 暗号化保管庫）";
pub const LOCATION_EXPORT: &str = "端末（書き出し先）";
pub const METHOD_ERASE: &str = "消去（暗号化消去：鍵の破棄と上書き削除）";
pub const METHOD_ERASE_BY_HAND: &str = "消去（データ抹消ソフトウェア）";
pub const CHECK_VAULT: &str = "全項目の読み出し不能を Kinko で確認";
pub const CHECK_WITNESS: &str = "作業確認者の立ち会い";
pub const METHOD_RETURN: &str = "返却（暗号化した返却パッケージ）の後、消去（暗号化消去）";
pub const LOCATION_BACKUP: &str = "バックアップファイル";
pub const METHOD_ERASE_BACKUP: &str = "消去（上書き削除）。他の場所への複製は媒体ごと消去";
pub const CHECK_BACKUP: &str =
    "記録された場所にファイルが無いことを Kinko で確認し、複製の消去に立ち会う";
pub const CHECK_RETURN: &str = "返却パッケージの受領確認と、全項目の読み出し不能を Kinko で確認";

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    /// `document:12`, `export:3` or `keys`.
    pub item: String,
    /// What the row says the item is (no titles: numbers, dates, hashes).
    pub label: String,
    pub kind: String,
    pub location: String,
    pub method: String,
    pub check: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

/// The plan as signed and as approved: any change makes another plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub plan: i64,
    pub vault_id: String,
    pub council: String,
    pub made_at: String,
    pub made_by: String,
    pub executor: Person,
    pub confirmer: Person,
    /// 全ての作業が完了する予定日.
    pub planned_date: NaiveDate,
    /// Every document the vault holds (not a subset on the bureau's
    /// instruction): the vault is disposed of once it is done.
    pub whole_vault: bool,
    /// The documents go back to the bureau in a return package first
    /// (`kinko return`), then are erased.
    pub returned: bool,
    pub items: Vec<PlanItem>,
}

/// What `disposal plan` hands back: the printable plan and its twin.
#[derive(Debug, Clone, Serialize)]
pub struct PlanFiles {
    pub plan: Plan,
    pub sha256: String,
    pub html: String,
    pub json: String,
}

/// What the confirmer's verification found for one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCheck {
    pub item: String,
    /// Wrapped data keys left (must be 0).
    pub keys_left: i64,
    /// Whether its object file still exists (must be false).
    pub object_present: bool,
    /// Whether any key opened it (must be false).
    pub readable: bool,
    pub erased: bool,
}

/// The state of the current plan (`disposal status`).
#[derive(Debug, Clone, Serialize)]
pub struct PlanState {
    pub plan: Plan,
    pub sha256: String,
    pub state: String,
    pub approved_ref: Option<String>,
    pub approved_date: Option<String>,
    pub executed_by: Option<String>,
    pub executed_at: Option<String>,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    pub completed_date: Option<String>,
    pub checks: Vec<ItemCheck>,
}

/// The completion report's content (別添2), as signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completion {
    pub plan: Plan,
    pub plan_sha256: String,
    pub approved_ref: String,
    pub approved_date: String,
    pub executed_by: String,
    pub executed_at: String,
    pub confirmed_by: String,
    pub confirmed_at: String,
    /// 全ての作業が完了した日.
    pub completed_date: NaiveDate,
    pub checks: Vec<ItemCheck>,
    /// The audit tree when the disposal was confirmed.
    pub audit: Checkpoint,
}

/// What `disposal report` hands back.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFiles {
    pub completion: Completion,
    pub html: String,
    pub json: String,
}

/// `disposal plan` arguments.
pub struct PlanRequest<'a> {
    pub executor: &'a str,
    pub confirmer: &'a str,
    /// Only these documents (the bureau's instruction); None: everything.
    pub items: Option<&'a [i64]>,
    pub planned_date: NaiveDate,
    /// Return the documents to the bureau before erasing them.
    pub returned: bool,
}

fn plan_sha256(body: &str) -> String {
    crypto::hex(&crypto::sha256(body.as_bytes()))
}

/// An account that may execute or confirm: active, officer or manager.
fn person(tx: &Transaction, id: &str, what: &str) -> Result<Person> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT name, roles, status FROM accounts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match row {
        None => Err(Error::NotFound(format!("account {id}"))),
        Some((_, _, status)) if status != "active" => Err(Error::invalid(format!(
            "{id} cannot be the {what}: the account is {status}"
        ))),
        Some((name, roles, _)) => {
            let roles = crate::permission::Roles::parse(&roles)?;
            let action = if what == "executor" {
                Action::DisposalExecute
            } else {
                Action::DisposalConfirm
            };
            crate::permission::check(&roles, action).map_err(|_| {
                Error::invalid(format!(
                    "{id} cannot be the {what}: only the officer or a manager can"
                ))
            })?;
            Ok(Person {
                id: id.into(),
                name,
            })
        }
    }
}

/// The starting list: every document not yet erased (or the chosen ones),
/// every recorded export of them, and the key material.
fn inventory(tx: &Transaction, only: Option<&[i64]>) -> Result<(Vec<PlanItem>, bool)> {
    let docs: Vec<(i64, String, i64, String)> = tx
        .prepare("SELECT id, received_at, size, sha256 FROM documents WHERE erased_at IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(only) = only {
        for id in only {
            if !docs.iter().any(|d| d.0 == *id) {
                return Err(Error::NotFound(format!(
                    "document {id} (or it was disposed of already)"
                )));
            }
        }
    }
    let chosen: Vec<_> = docs
        .iter()
        .filter(|d| only.is_none_or(|o| o.contains(&d.0)))
        .collect();
    if chosen.is_empty() {
        return Err(Error::invalid("the vault holds no documents to dispose of"));
    }
    let whole = chosen.len() == docs.len();
    let mut items = Vec::new();
    for (id, received, size, sha) in &chosen {
        let day = received.get(..10).unwrap_or(received);
        items.push(PlanItem {
            item: format!("document:{id}"),
            label: format!(
                "文書 {id}（受領 {day}、{size} バイト、SHA-256 {}…）",
                &sha[..16.min(sha.len())]
            ),
            kind: KIND_ELECTRONIC.into(),
            location: LOCATION_VAULT.into(),
            method: METHOD_ERASE.into(),
            check: CHECK_VAULT.into(),
        });
        let exports: Vec<(i64, String, String)> = tx
            .prepare("SELECT id, target, at FROM exports WHERE doc_id = ?1 ORDER BY id")?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (export, target, at) in exports {
            items.push(PlanItem {
                item: format!("export:{export}"),
                label: format!(
                    "文書 {id} の書き出し（{}、{target}）",
                    at.get(..10).unwrap_or(&at)
                ),
                kind: KIND_ELECTRONIC.into(),
                location: LOCATION_EXPORT.into(),
                method: METHOD_ERASE_BY_HAND.into(),
                check: CHECK_WITNESS.into(),
            });
        }
    }
    // A backup holds every document it was made with, so every backup
    // still on record is erased with any of them (E3).
    let backups: Vec<(i64, String, String, i64, i64)> = tx
        .prepare("SELECT id, path, made_at, size, epoch FROM backups WHERE destroyed_at IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, path, made, size, epoch) in backups {
        items.push(PlanItem {
            item: format!("backup:{id}"),
            label: format!(
                "バックアップ {id}（作成 {}、{size} バイト、鍵世代 {epoch}）",
                made.get(..10).unwrap_or(&made)
            ),
            kind: KIND_ELECTRONIC.into(),
            location: format!("{LOCATION_BACKUP} {path}"),
            method: METHOD_ERASE_BACKUP.into(),
            check: CHECK_BACKUP.into(),
        });
    }
    if whole {
        items.push(PlanItem {
            item: "keys".into(),
            label: "文書の暗号鍵（利用者・保管用の鍵の写し）と保存されたセッション".into(),
            kind: KIND_ELECTRONIC.into(),
            location: LOCATION_VAULT.into(),
            method: METHOD_ERASE.into(),
            check: CHECK_VAULT.into(),
        });
    }
    Ok((items, whole))
}

/// The current (newest, not superseded) plan and its state.
fn current(conn: &Connection) -> Result<Option<(i64, String, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, body, state FROM disposal_plans WHERE state <> 'superseded' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// The current plan, checked against the hash its approval bound.
pub(crate) fn load_current(conn: &Connection) -> Result<(Plan, String, String)> {
    let (id, body, state) = current(conn)?
        .ok_or_else(|| Error::NotFound("a disposal plan (make one with `disposal plan`)".into()))?;
    let stored: String = conn.query_row(
        "SELECT body_sha256 FROM disposal_plans WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let sha = plan_sha256(&body);
    if sha != stored {
        return Err(Error::tampered(format!(
            "disposal plan {id} was changed after it was made"
        )));
    }
    let plan: Plan = serde_json::from_str(&body)
        .map_err(|_| Error::tampered(format!("disposal plan {id} is not readable")))?;
    Ok((plan, sha, state))
}

pub(crate) fn require_state(state: &str, wanted: &[&str], doing: &str) -> Result<()> {
    if wanted.contains(&state) {
        return Ok(());
    }
    let why = match state {
        "draft" => "the bureau's approval of the plan is not recorded yet (`disposal approve`)",
        "approved" | "executing" => "the plan has not been executed yet",
        "executed" => "the execution has not been confirmed yet",
        "confirmed" | "reported" => "the disposal is already done",
        other => other,
    };
    Err(Error::denied(format!("cannot {doing}: {why}")))
}

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
            let (mut items, whole_vault) = inventory(tx, req.items)?;
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
                planned_date: req.planned_date,
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
            let key = AuditKey::load(tx)?;
            let signer = key.signer(&ctx.vault_id);
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
                // Files of killed imports or re-encryptions: ciphertext
                // whose keys some copy might still hold.
                crate::integrity::remove_leftovers(tx, &ctx.objects_dir()).map(drop)
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
        self.truncate_wal()?;
        self.conn.execute_batch("VACUUM")?;
        self.truncate_wal()
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (plan, _, state) = load_current(&tx)?;
        require_state(&state, &["approved", "executing"], "execute")?;
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
            let (now, _) = inventory(&tx, only.as_deref())?;
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
            audit::append(
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
                "UPDATE documents SET title = '', file_name = '', origin = '', purpose = '', erased_at = ?1 WHERE id = ?2",
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
        let path = crate::document::object_file(&self.ctx.objects_dir(), &name)?;
        self.step(plan, item, "object_removed", |_, _| {
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        audit::append(
            &tx,
            &self.ctx.event(
                "disposal.step",
                item,
                audit::OK,
                &format!("plan {}: {step}", plan.plan),
            ),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Confirm the execution (the plan's confirmer, not its executor): try
    /// every item, and record what was found.
    pub fn disposal_confirm(&mut self) -> Result<PlanState> {
        self.perform(Action::DisposalConfirm, "disposal", |tx, ctx| {
            let (plan, sha, state) = load_current(tx)?;
            require_state(&state, &["executed"], "confirm")?;
            let executed_by: String = tx.query_row(
                "SELECT executed_by FROM disposal_plans WHERE id = ?1",
                [plan.plan],
                |r| r.get(0),
            )?;
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
            let checks = verify_items(tx, ctx, &plan)?;
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
            let audit = Checkpoint::make(tx, &ctx.vault_id, &ctx.actor.id)?;
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
            let s = plan_state(tx, plan.clone(), sha.clone(), state)?;
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
            let completion = Completion {
                plan,
                plan_sha256: sha,
                approved_ref: s.approved_ref.clone().unwrap_or_default(),
                approved_date: s.approved_date.clone().unwrap_or_default(),
                executed_by: s.executed_by.clone().unwrap_or_default(),
                executed_at: s.executed_at.clone().unwrap_or_default(),
                confirmed_by: s.confirmed_by.clone().unwrap_or_default(),
                confirmed_at,
                completed_date,
                checks: s.checks.clone(),
                audit,
            };
            let key = AuditKey::load(tx)?;
            let signer = key.signer(&ctx.vault_id);
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

pub(crate) fn remove_all_sessions(ctx: &Ctx) -> Result<()> {
    let dir = ctx.dir.join(crate::vault::SESSIONS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for e in entries.flatten() {
        fsutil::remove_overwritten(&e.path())?;
    }
    Ok(())
}

/// Try every document item of the plan: no key may be left, no object
/// file, and no key of anyone's (nor the custodian's) may open it.
fn verify_items(tx: &Transaction, ctx: &Ctx, plan: &Plan) -> Result<Vec<ItemCheck>> {
    let mut out = Vec::new();
    for item in &plan.items {
        if let Some(id) = item.item.strip_prefix("backup:") {
            out.push(check_backup(tx, &item.item, id)?);
            continue;
        }
        let Some(id) = item.item.strip_prefix("document:") else {
            continue;
        };
        let id: i64 = id
            .parse()
            .map_err(|_| Error::tampered("a plan item is malformed"))?;
        let keys_left: i64 =
            tx.query_row("SELECT count(*) FROM wraps WHERE doc_id = ?1", [id], |r| {
                r.get(0)
            })?;
        let name: String = tx.query_row(
            "SELECT object_name FROM documents WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let object_present = crate::document::object_file(&ctx.objects_dir(), &name)?.exists();
        // Reading needs a wrapped key and the ciphertext: both must be gone.
        let readable = keys_left > 0 && object_present;
        out.push(ItemCheck {
            item: item.item.clone(),
            keys_left,
            object_present,
            readable,
            erased: keys_left == 0 && !object_present && !readable,
        });
    }
    Ok(out)
}

/// A backup is erased once its file is gone from the recorded path.
fn check_backup(tx: &Transaction, item: &str, id: &str) -> Result<ItemCheck> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::tampered("a plan item is malformed"))?;
    let (path, uid): (String, String) =
        tx.query_row("SELECT path, uid FROM backups WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let path = std::path::Path::new(&path);
    let present = crate::backup::is_backup(path, &uid)
        || crate::backup::is_backup(&crate::backup::partial_path(path), &uid);
    Ok(ItemCheck {
        item: item.into(),
        keys_left: 0,
        object_present: present,
        readable: present,
        erased: !present,
    })
}

fn plan_state(tx: &Transaction, plan: Plan, sha: String, state: String) -> Result<PlanState> {
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let r: Row = tx.query_row(
        "SELECT approved_ref, approved_date, executed_by, executed_at, confirmed_by, confirmed_at, completed_date, verification FROM disposal_plans WHERE id = ?1",
        [plan.plan],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
    )?;
    let checks = match r.7 {
        Some(v) => serde_json::from_str(&v)
            .map_err(|_| Error::tampered("the stored verification is not readable"))?,
        None => Vec::new(),
    };
    Ok(PlanState {
        plan,
        sha256: sha,
        state,
        approved_ref: r.0,
        approved_date: r.1,
        executed_by: r.2,
        executed_at: r.3,
        confirmed_by: r.4,
        confirmed_at: r.5,
        completed_date: r.6,
        checks,
    })
}
