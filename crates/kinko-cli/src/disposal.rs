//! `kinko disposal …` and `kinko verify-report`: parse, call the core, show.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use kinko_core::disposal::{PlanRequest, PlanState};
use serde_json::json;

use crate::args::{DisposalCmd, Global};
use crate::commands::{session, write_new_files, Out, Ui};

pub fn run(ui: &Ui, g: &Global, cmd: DisposalCmd) -> Out {
    match cmd {
        DisposalCmd::Plan {
            executor,
            confirmer,
            out,
            items,
            complete_by,
        } => {
            let planned_date = match complete_by {
                Some(d) => date(&d)?,
                None => today() + chrono::Duration::days(14),
            };
            let twin = twin_path(&out);
            let files = session(g)?.disposal_plan(&PlanRequest {
                executor: &executor,
                confirmer: &confirmer,
                items: items.as_deref(),
                planned_date,
            })?;
            write_new_files(&[
                (out.clone(), files.html.as_bytes()),
                (twin.clone(), files.json.as_bytes()),
            ])?;
            ui.show(
                &json!({"plan": files.plan.plan, "sha256": files.sha256, "items": files.plan.items.len(), "files": [out, twin]}),
                || {
                    format!(
                        "{} {} ({} {})\nSHA-256: {}\n{}\n{}",
                        ui.t("作業実施計画書を書き出しました: 計画", "Disposal plan written: plan"),
                        files.plan.plan,
                        files.plan.items.len(),
                        ui.t("項目", "items"),
                        files.sha256,
                        out.display(),
                        twin.display()
                    )
                },
            )
        }
        DisposalCmd::Approve { reference, date: d } => {
            let plan = session(g)?.disposal_approve(&reference, date(&d)?)?;
            ui.show(&json!({"plan": plan, "approved": reference}), || {
                format!(
                    "{} {plan} ({reference})",
                    ui.t("承認を記録しました: 計画", "Approval recorded: plan")
                )
            })
        }
        DisposalCmd::Execute => {
            let s = session(g)?.disposal_execute()?;
            show_state(ui, &s)
        }
        DisposalCmd::Confirm => {
            let s = session(g)?.disposal_confirm()?;
            show_state(ui, &s)
        }
        DisposalCmd::Status => {
            let s = session(g)?.disposal_status()?;
            show_state(ui, &s)
        }
        DisposalCmd::Report { out } => {
            let twin = twin_path(&out);
            let r = session(g)?.disposal_report()?;
            write_new_files(&[
                (out.clone(), r.html.as_bytes()),
                (twin.clone(), r.json.as_bytes()),
            ])?;
            ui.show(
                &json!({"plan": r.completion.plan.plan, "completed": r.completion.completed_date, "files": [out, twin]}),
                || {
                    format!(
                        "{} {}\n{}\n{}",
                        ui.t("作業完了報告書を書き出しました: 完了日", "Completion report written: completed"),
                        r.completion.completed_date,
                        out.display(),
                        twin.display()
                    )
                },
            )
        }
    }
}

fn show_state(ui: &Ui, s: &PlanState) -> Out {
    ui.show_record(s, || {
        let mut rows = vec![
            (ui.t("計画", "Plan"), s.plan.plan.to_string()),
            (ui.t("状態", "State"), s.state.clone()),
            ("SHA-256", s.sha256.clone()),
            (ui.t("項目数", "Items"), s.plan.items.len().to_string()),
            (ui.t("作業実施者", "Executor"), s.plan.executor.id.clone()),
            (ui.t("作業確認者", "Confirmer"), s.plan.confirmer.id.clone()),
            (
                ui.t("承認", "Approval"),
                s.approved_ref.clone().unwrap_or_else(|| "-".into()),
            ),
        ];
        if let Some(d) = &s.completed_date {
            rows.push((ui.t("完了日", "Completed"), d.clone()));
        }
        for c in &s.checks {
            rows.push((
                ui.t("確認", "Checked"),
                format!(
                    "{}: {}",
                    c.item,
                    if c.erased {
                        ui.t("読み出し不能", "unreadable")
                    } else {
                        ui.t("読み出し可能", "STILL READABLE")
                    }
                ),
            ));
        }
        rows
    })
}

/// Check a signed plan or report with no vault.
pub fn verify_report(ui: &Ui, file: &Path) -> Out {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let c = kinko_core::signed::check(&bytes)?;
    ui.show(&c, || {
        format!(
            "{} {} ({} {}, {} {})",
            ui.t(
                "署名は正しく、改変はありません:",
                "The signature holds; nothing was changed:"
            ),
            c.kind,
            ui.t("金庫", "vault"),
            c.vault_id,
            ui.t("鍵の指紋", "key fingerprint"),
            c.key_fingerprint
        )
    })
}

/// `plan.html` → `plan.json`; `plan` → `plan.json`.
fn twin_path(out: &Path) -> PathBuf {
    if out.extension().is_some_and(|e| e == "json") {
        let mut p = out.as_os_str().to_owned();
        p.push(".twin.json");
        PathBuf::from(p)
    } else {
        out.with_extension("json")
    }
}

fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&kinko_core::policy::japan())
        .date_naive()
}

fn date(text: &str) -> Result<NaiveDate, crate::Failure> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("'{text}' is not a date: write YYYY-MM-DD").into())
}
