//! `kinko incident …` and `kinko report status`: parse, call the core, show.

use std::path::Path;

use kinko_core::incident::{Incident, IncidentFields};
use serde_json::json;

use crate::args::{Global, IncidentArgs, IncidentCmd};
use crate::ui::{refuse_taken, session, write_new_files, Out, Ui};

fn fields(a: IncidentArgs) -> IncidentFields {
    IncidentFields {
        detected_at: a.detected,
        reported_at: a.reported,
        summary: a.summary,
        items: a.items,
        actions: a.actions,
        improvement: a.plan,
    }
}

pub fn run(ui: &Ui, g: &Global, cmd: IncidentCmd) -> Out {
    match cmd {
        IncidentCmd::Add(a) => {
            let id = session(g)?.incident_add(&fields(a))?;
            ui.show(&json!({"incident": id}), || id.to_string())
        }
        IncidentCmd::Update { id, fields: a } => {
            let i = session(g)?.incident_update(id, &fields(a))?;
            show_one(ui, &i)
        }
        IncidentCmd::Close { id, note } => {
            session(g)?.incident_close(id, &note)?;
            ui.show(&json!({"closed": id}), || {
                format!(
                    "{} {id}",
                    ui.t("インシデントを完了しました:", "Incident closed:")
                )
            })
        }
        IncidentCmd::List { all } => {
            let list = session(g)?.incidents(all)?;
            ui.show_table(
                &list,
                &[
                    "#",
                    ui.t("発見日時", "Detected"),
                    ui.t("労働局への報告", "Reported"),
                    ui.t("内容", "Summary"),
                    ui.t("状態", "State"),
                ],
                |i| {
                    vec![
                        i.id.to_string(),
                        i.detected_at.clone(),
                        i.reported_at.clone().unwrap_or_else(|| "-".into()),
                        i.summary.clone(),
                        if i.closed_at.is_some() {
                            ui.t("完了", "closed")
                        } else {
                            ui.t("対応中", "open")
                        }
                        .into(),
                    ]
                },
            )
        }
        IncidentCmd::Report { out } => {
            refuse_taken(&[&out])?;
            let page = session(g)?.incident_report()?;
            write_new_files(&[(out.clone(), page.as_bytes())])?;
            ui.show(&json!({"file": out}), || {
                format!("{} {}", ui.t("書き出しました:", "Written:"), out.display())
            })
        }
    }
}

fn show_one(ui: &Ui, i: &Incident) -> Out {
    ui.show_record(i, || {
        vec![
            ("#", i.id.to_string()),
            (ui.t("発見日時", "Detected"), i.detected_at.clone()),
            (
                ui.t("労働局への報告", "Reported"),
                i.reported_at.clone().unwrap_or_else(|| "-".into()),
            ),
            (ui.t("内容", "Summary"), i.summary.clone()),
            (ui.t("影響を受けた情報", "Items"), i.items.join(", ")),
            (ui.t("対応", "Actions"), i.actions.clone()),
            (
                ui.t("再発防止策", "Improvement plan"),
                i.improvement.clone(),
            ),
        ]
    })
}

/// `kinko report status`.
pub fn status_report(ui: &Ui, g: &Global, month: &str, out: &Path) -> Out {
    refuse_taken(&[out])?;
    let files = session(g)?.status_report(month)?;
    write_new_files(&[(out.to_path_buf(), files.html.as_bytes())])?;
    ui.show(
        &json!({"file": out, "month": files.report.month, "people": files.report.access.len()}),
        || {
            format!(
                "{} {}",
                ui.t("履行状況報告を書き出しました:", "Status report written:"),
                out.display()
            )
        },
    )
}
