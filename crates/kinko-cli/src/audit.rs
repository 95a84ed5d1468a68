//! `kinko audit …` and `kinko alerts`: parse, call the core, show.

use std::path::Path;

use kinko_core::audit::checkpoint::Checkpoint;
use kinko_core::audit::report::Language;
use kinko_core::audit::{Query, Record};
use serde_json::json;

use crate::args::{AuditCmd, Global};
use crate::ui::{date, read_input, refuse_taken, session, write_new_files, Out, Ui};

pub fn run(ui: &Ui, g: &Global, cmd: AuditCmd) -> Out {
    match cmd {
        AuditCmd::Log {
            since,
            until,
            actor,
            event,
            object,
        } => log(ui, g, since, until, actor, event, object),
        AuditCmd::Verify { checkpoint } => verify(ui, g, checkpoint.as_deref()),
        AuditCmd::Checkpoint { out } => {
            refuse_taken(&[&out])?;
            let c = session(g)?.audit_checkpoint()?;
            write_new_files(&[(out.clone(), &c.to_json())])?;
            ui.show(&c, || {
                format!(
                    "{} {}\n{}: {}\n{}: {}",
                    ui.t("チェックポイントを書き出しました:", "Checkpoint written:"),
                    out.display(),
                    ui.t("イベント数", "Events"),
                    c.size,
                    ui.t("ルートハッシュ", "Root"),
                    c.root
                )
            })
        }
        AuditCmd::Report {
            from,
            to,
            out,
            format,
        } => report(ui, g, &from, &to, &out, format.as_deref()),
        AuditCmd::Proof { seq } => {
            let p = session(g)?.audit_proof(seq)?;
            ui.show_record(&p, || {
                vec![
                    ("#", p.record.seq.to_string()),
                    (ui.t("イベント", "Event"), p.record.event.event.clone()),
                    (ui.t("日時(UTC)", "Time (UTC)"), p.record.event.at.clone()),
                    (ui.t("葉ハッシュ", "Leaf hash"), p.record.leaf.clone()),
                    (ui.t("木の大きさ", "Tree size"), p.tree_size.to_string()),
                    (ui.t("ルートハッシュ", "Root"), p.root.clone()),
                    (ui.t("証明", "Audit path"), p.path.join("\n")),
                    (
                        ui.t("検証", "Verified"),
                        if p.verified { "ok" } else { "FAILED" }.into(),
                    ),
                ]
            })
        }
        AuditCmd::Archive { before, out } => {
            let before = date(&before)?;
            let s = session(g)?.audit_archive(before, &out)?;
            ui.show(&s, || {
                format!(
                    "{} {} ({} {}–{})",
                    ui.t(
                        "アーカイブを書き出し、削除しました:",
                        "Archived and dropped:"
                    ),
                    out.display(),
                    ui.t("イベント", "events"),
                    s.first,
                    s.last
                )
            })
        }
        AuditCmd::VerifyArchive { file, key } => {
            let bytes = read_input(&file)?;
            let s = kinko_core::audit::retention::verify_archive(&bytes, key.as_deref())?;
            ui.show(&s, || {
                format!(
                    "{} {}–{} ({} {}, {} {})",
                    ui.t(
                        "アーカイブは正常です: イベント",
                        "The archive verifies: events"
                    ),
                    s.first,
                    s.last,
                    ui.t("署名", "signed"),
                    s.checkpoint_at,
                    ui.t("鍵", "key"),
                    s.key_fingerprint
                )
            })
        }
    }
}

fn log(
    ui: &Ui,
    g: &Global,
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    event: Option<String>,
    object: Option<String>,
) -> Out {
    let object = object.map(|o| {
        if o.chars().all(|c| c.is_ascii_digit()) {
            format!("document:{o}")
        } else {
            o
        }
    });
    // A date means a Japan day, as in the app and the reports.
    let q = Query {
        since: since
            .map(|t| kinko_core::time::since("--since", &t))
            .transpose()?,
        until: until
            .map(|t| kinko_core::time::until("--until", &t))
            .transpose()?,
        actor,
        event,
        object,
    };
    let records = session(g)?.audit_log(&q)?;
    audit_table(ui, &records)
}

fn verify(ui: &Ui, g: &Global, checkpoint: Option<&Path>) -> Out {
    let kept = match checkpoint {
        None => None,
        Some(path) => {
            let bytes = read_input(path)?;
            Some(Checkpoint::from_json(&bytes)?)
        }
    };
    let r = session(g)?.audit_verify(kept.as_ref())?;
    ui.show(&r, || {
        let mut lines = vec![
            ui.t("監査ログは正常です。", "The audit trail verifies.")
                .to_string(),
            format!(
                "{}: {} ({} {})",
                ui.t("イベント数", "Events"),
                r.events,
                ui.t("うちアーカイブ済み", "archived:"),
                r.archived
            ),
            format!("{}: {}", ui.t("ルートハッシュ", "Root"), r.root),
            format!(
                "{}: {}",
                ui.t(
                    "確認した署名付きチェックポイント",
                    "Signed checkpoints checked"
                ),
                r.checkpoints
            ),
            format!(
                "{}: {} ({}: {})",
                ui.t("署名付きイベント", "Signed events"),
                r.signed,
                ui.t(
                    "各署名者の最新の署名を確認",
                    "last signature of each signer checked"
                ),
                r.signatures_checked
            ),
            format!(
                "{}: {}",
                ui.t("時刻の逆行", "Clock anomalies"),
                r.clock_anomalies
            ),
        ];
        if let Some(t) = &r.terminals {
            lines.push(format!(
                "{}: {} ({}: {})",
                ui.t(
                    "署名付き承認と一致した端末",
                    "Terminals matched with a signed approval"
                ),
                t.approved,
                ui.t(
                    "サーバーで登録された端末",
                    "enrolled by the server's operator"
                ),
                t.enrolled_by_operator
            ));
        }
        if let Some(c) = &r.against {
            lines.push(format!(
                "{}: {} ({} {})",
                ui.t(
                    "保管されたチェックポイントと一致",
                    "Matches the kept checkpoint"
                ),
                c.at,
                c.size,
                ui.t("件", "events")
            ));
        }
        lines.join("\n")
    })
}

fn report(ui: &Ui, g: &Global, from: &str, to: &str, out: &Path, format: Option<&str>) -> Out {
    let (from, to) = (date(from)?, date(to)?);
    let by_name = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let format = format
        .map(str::to_ascii_lowercase)
        .or(by_name.filter(|e| e == "csv" || e == "json"))
        .unwrap_or_else(|| "html".into());
    if !matches!(format.as_str(), "html" | "csv" | "json") {
        return Err(
            anyhow::anyhow!("unknown report format '{format}': use html, csv or json").into(),
        );
    }
    refuse_taken(&[out])?;
    let r = session(g)?.audit_report(from, to)?;
    // The printed report is Japanese unless English is asked for by name.
    let language = match g.lang.as_deref() {
        Some(l) if l.starts_with("en") => Language::English,
        _ => Language::Japanese,
    };
    let text = match format.as_str() {
        "csv" => r.csv()?,
        "json" => r.json(),
        _ => r.html(language),
    };
    write_new_files(&[(out.to_path_buf(), text.as_bytes())])?;
    ui.show(
        &json!({"file": out.display().to_string(), "events": r.events, "refused": r.refused, "alerts": r.alerts.len()}),
        || {
            format!(
                "{} {} ({} {}, {} {})",
                ui.t("報告書を書き出しました:", "Report written:"),
                out.display(),
                r.events,
                ui.t("件", "events"),
                r.alerts.len(),
                ui.t("件のアラート", "alerts")
            )
        },
    )
}

pub fn alerts(ui: &Ui, g: &Global, all: bool, ack: Option<i64>, note: Option<&str>) -> Out {
    let mut s = session(g)?;
    if let Some(id) = ack {
        s.alert_ack(id, note.unwrap_or_default())?;
        return ui.show(&json!({"acknowledged": id}), || {
            format!("{} {id}", ui.t("確認済みにしました:", "Acknowledged:"))
        });
    }
    let found = s.alerts(all)?;
    ui.show_table(
        &found,
        &[
            "#",
            ui.t("規則", "Rule"),
            ui.t("日時(UTC)", "Time (UTC)"),
            ui.t("利用者", "Person"),
            ui.t("内容", "Summary"),
            ui.t("確認", "Acknowledged"),
        ],
        |a| {
            vec![
                a.id.to_string(),
                a.rule.clone(),
                a.at.clone(),
                a.actor.clone(),
                a.summary.clone(),
                match (&a.acked_by, &a.ack_note) {
                    (Some(by), Some(n)) => format!("{by}: {n}"),
                    _ => "-".into(),
                },
            ]
        },
    )
}

/// How often `kinko alerts --follow` asks for new alerts.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// `kinko alerts --follow`: the open alerts, then each new one as it is
/// raised, one line each, until the session ends (exit 3, saying why).
pub fn follow_alerts(ui: &Ui, g: &Global) -> Out {
    use anyhow::Context;
    use std::io::Write;
    let mut s = session(g)?;
    let mut after = 0;
    loop {
        for a in s.watch_alerts(after)? {
            let line = if ui.json {
                serde_json::to_string(&a).context("serialising output")?
            } else {
                crate::text::printable(&format!(
                    "#{} {} {} {}: {}",
                    a.id, a.at, a.rule, a.actor, a.summary
                ))
            };
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")
                .and_then(|_| out.flush())
                .context("writing to standard output")?;
            after = after.max(a.id);
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

fn audit_table(ui: &Ui, records: &[Record]) -> Out {
    ui.show_table(
        records,
        &[
            "#",
            ui.t("日時(UTC)", "Time (UTC)"),
            ui.t("操作者", "Actor"),
            ui.t("イベント", "Event"),
            ui.t("対象", "Object"),
            ui.t("結果", "Outcome"),
            ui.t("端末", "Terminal"),
            ui.t("詳細", "Detail"),
        ],
        |r| {
            let e = &r.event;
            vec![
                r.seq.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.event.clone(),
                e.object.clone(),
                e.outcome.clone(),
                e.terminal.clone(),
                e.detail.clone(),
            ]
        },
    )
}
