//! The monthly implementation-status report (履行状況報告, I2), made from
//! the vault's own records: the audit trail, the alerts and the incident
//! register. Signed like the disposal forms, so the bureau can check it
//! with `kinko verify-report`.

use chrono::{Datelike, NaiveDate};
use rusqlite::Transaction;
use serde::Serialize;

use crate::audit::report::{self, PersonCount};
use crate::audit::{self, alerts, checkpoint::Checkpoint, Record};
use crate::db::meta;
use crate::error::{Error, Result};
use crate::forms::esc;
use crate::wareki;

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub council: String,
    pub month: String,
    pub roster_changes: Vec<Record>,
    pub account_changes: Vec<Record>,
    /// Per person: events, views and exports (and of those the exports),
    /// refusals, failed sign-ins (the audit report's counts for the month).
    pub access: Vec<PersonCount>,
    pub alerts: Vec<alerts::Alert>,
    pub incidents: Vec<crate::incident::Incident>,
    pub verifications: Vec<Record>,
    pub backups: Vec<Record>,
    pub audit: Checkpoint,
}

/// What `report status` hands back: the signed page and its content.
#[derive(Debug, Clone, Serialize)]
pub struct StatusFiles {
    pub report: StatusReport,
    pub html: String,
}

/// The first and last day of `YYYY-MM`.
pub fn month_days(month: &str) -> Result<(NaiveDate, NaiveDate)> {
    let bad = || Error::invalid(format!("'{month}' is not a month: write YYYY-MM"));
    let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
        .map_err(|_| bad())?;
    if !(2000..=9999).contains(&first.year()) {
        return Err(bad());
    }
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(bad)?;
    Ok((first, next.pred_opt().ok_or_else(bad)?))
}

/// Events of the period that match `filter` (a fixed SQL condition).
fn events_where(tx: &Transaction, start: &str, end: &str, filter: &str) -> Result<Vec<Record>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT {} FROM audit_events WHERE at >= ?1 AND at < ?2 AND ({filter}) ORDER BY seq",
        audit::RECORD_COLUMNS
    ))?;
    let rows = stmt.query_map([start, end], audit::record_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn build(
    tx: &Transaction,
    signer: &crate::grant::Signer,
    month: &str,
) -> Result<StatusReport> {
    let (vault_id, made_by) = (signer.vault_id, signer.account);
    let (first, last) = month_days(month)?;
    let council = String::from_utf8_lossy(&meta(tx, "council")?).into_owned();
    // The month's counts, alerts and signed checkpoint are the audit
    // report's; this report adds the changes, checks and incidents.
    let counts = report::build(
        tx,
        &report::Period {
            from: first,
            to: last,
            council: &council,
            vault_id,
            made_by,
        },
        signer,
    )?;
    let (start, end) = report::utc_bounds(first, last);
    let lines = |filter: &str| events_where(tx, &start, &end, filter);
    let incidents = crate::incident::list(tx, true)?
        .into_iter()
        .filter(|i| {
            let touched = |t: &str| t >= start.as_str() && t < end.as_str();
            touched(&i.detected_at)
                || i.updates.iter().any(|u| touched(&u.at))
                || (i.closed_at.is_none() && i.detected_at.as_str() < end.as_str())
        })
        .collect();
    Ok(StatusReport {
        month: first.format("%Y-%m").to_string(),
        roster_changes: lines("outcome = 'ok' AND event IN ('roster.request', 'roster.approve')")?,
        account_changes: lines(
            "outcome = 'ok' AND event IN ('account.add', 'account.manage', 'account.recover')",
        )?,
        verifications: lines("event IN ('vault.verify', 'audit.verify')")?,
        backups: lines("event = 'vault.backup'")?,
        access: counts
            .by_person
            .into_iter()
            .filter(|p| p.actor != audit::SYSTEM)
            .collect(),
        alerts: counts.alerts,
        incidents,
        audit: counts.checkpoint,
        council,
    })
}

fn lines_table(lines: &[Record]) -> String {
    if lines.is_empty() {
        return "<p>該当なし</p>\n".into();
    }
    let mut s = String::from("<table>\n<tr><th>日時(UTC)</th><th>実施者</th><th>操作</th><th>対象</th><th>結果</th><th>内容</th></tr>\n");
    for r in lines {
        let l = &r.event;
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&l.at),
            esc(&l.actor),
            esc(&l.event),
            esc(&l.object),
            esc(&l.outcome),
            esc(&l.detail)
        ));
    }
    s.push_str("</table>\n");
    s
}

pub(crate) fn html(r: &StatusReport) -> String {
    let today = chrono::Utc::now()
        .with_timezone(&crate::time::japan())
        .date_naive();
    let (first, last) = month_days(&r.month).unwrap_or((today, today));
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n<title>履行状況報告</title>\n\
         <style>body{{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:2em}}h1{{font-size:1.3em;text-align:center}}\
         h2{{font-size:1.05em;margin-top:1.5em}}table{{border-collapse:collapse;width:100%;font-size:0.8em}}\
         th,td{{border:1px solid #000;padding:3px;vertical-align:top;word-break:break-all}}th{{background:#eee}}.date{{text-align:right}}</style>\n\
         </head>\n<body>\n<p class=\"date\">{}</p>\n<h1>情報セキュリティ対策の履行状況報告</h1>\n<p>協議会名：{}</p>\n\
         <p>対象期間：{} から {} まで</p>\n",
        wareki::format(today),
        esc(&r.council),
        wareki::format(first),
        wareki::format(last),
    );
    s.push_str("<h2>1　情報取扱者名簿・業務従事者名簿の変更</h2>\n");
    s.push_str(&lines_table(&r.roster_changes));
    s.push_str("<h2>2　アカウントの変更</h2>\n");
    s.push_str(&lines_table(&r.account_changes));
    s.push_str("<h2>3　アクセスの状況</h2>\n");
    if r.access.is_empty() {
        s.push_str("<p>該当なし</p>\n");
    } else {
        s.push_str("<table>\n<tr><th>利用者</th><th>イベント</th><th>文書の閲覧・持ち出し（回）</th><th>うち持ち出し</th><th>拒否・失敗</th><th>サインイン失敗</th></tr>\n");
        for a in &r.access {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&a.actor),
                a.events,
                a.opened,
                a.exported,
                a.refused,
                a.failed_signins
            ));
        }
        s.push_str("</table>\n");
    }
    s.push_str(&format!(
        "<h2>4　アラートと確認</h2>\n<p>発生 {} 件、うち確認済み {} 件</p>\n",
        r.alerts.len(),
        r.alerts.iter().filter(|a| a.acked_by.is_some()).count()
    ));
    if !r.alerts.is_empty() {
        s.push_str("<table>\n<tr><th>#</th><th>規則</th><th>日時(UTC)</th><th>内容</th><th>確認</th></tr>\n");
        for a in &r.alerts {
            let ack = match (&a.acked_by, &a.ack_note) {
                (Some(by), Some(n)) => format!("{by}：{n}"),
                _ => "未確認".into(),
            };
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                a.id,
                esc(&a.rule),
                esc(&a.at),
                esc(&a.summary),
                esc(&ack)
            ));
        }
        s.push_str("</table>\n");
    }
    s.push_str("<h2>5　インシデント</h2>\n");
    if r.incidents.is_empty() {
        s.push_str("<p>該当なし</p>\n");
    } else {
        s.push_str("<table>\n<tr><th>番号</th><th>発見日時</th><th>労働局への報告</th><th>内容</th><th>状態</th></tr>\n");
        for i in &r.incidents {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                i.id,
                esc(&i.detected_at),
                esc(i.reported_at.as_deref().unwrap_or("未報告")),
                esc(&i.summary),
                if i.closed_at.is_some() {
                    "完了"
                } else {
                    "対応中"
                }
            ));
        }
        s.push_str("</table>\n");
    }
    s.push_str("<h2>6　完全性の検証</h2>\n");
    s.push_str(&lines_table(&r.verifications));
    s.push_str("<h2>7　バックアップ</h2>\n");
    s.push_str(&lines_table(&r.backups));
    s.push_str(&format!(
        "<h2>8　監査ログ</h2>\n<p>記録件数 {} 件、ルートハッシュ {}（{} 署名）</p>\n</body>\n</html>\n",
        r.audit.size,
        esc(&r.audit.root),
        esc(&r.audit.at)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_whole_months() {
        let (a, b) = month_days("2026-02").unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        assert!(month_days("2026-13").is_err());
        assert!(month_days("1999-01").is_err());
        assert!(month_days("feb").is_err());
    }
}
