//! The incident register (I1): when an incident was detected and reported
//! to the bureau, what happened, which items it touched, what was done,
//! and the improvement plan; every change kept as an update, records kept
//! (never deleted, also after disposal) and printable for the bureau.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::audit;
use crate::error::{Error, Result};
use crate::forms::esc;

/// What `incident add` and `incident update` may set.
#[derive(Debug, Clone, Default)]
pub struct IncidentFields {
    /// When it was detected (RFC 3339 or `YYYY-MM-DD HH:MM`, Japan time).
    pub detected_at: Option<String>,
    /// When it was reported to the bureau.
    pub reported_at: Option<String>,
    pub summary: Option<String>,
    /// Affected items, e.g. `document:3`.
    pub items: Option<Vec<String>>,
    /// Actions taken (each update adds to them).
    pub actions: Option<String>,
    /// Improvement plan (再発防止策).
    pub improvement: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "IncidentUpdate"))]
pub struct Update {
    pub at: String,
    pub by: String,
    pub what: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Incident {
    pub id: i64,
    pub detected_at: String,
    pub reported_at: Option<String>,
    pub summary: String,
    pub items: Vec<String>,
    pub actions: String,
    pub improvement: String,
    pub opened_by: String,
    pub opened_at: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    pub close_note: Option<String>,
    pub updates: Vec<Update>,
}

/// A time a person typed, as UTC RFC 3339: RFC 3339 itself, or
/// `YYYY-MM-DD HH:MM` / `YYYY-MM-DD` in Japan time.
pub fn parse_time(text: &str) -> Result<String> {
    let t = text.trim();
    let utc = |dt: chrono::DateTime<chrono::FixedOffset>| {
        dt.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(utc(dt));
    }
    let local = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| {
            Error::invalid(format!(
                "'{text}' is not a time: write YYYY-MM-DD HH:MM (Japan time) or RFC 3339"
            ))
        })?;
    let dt = local
        .and_local_timezone(crate::time::japan())
        .single()
        .ok_or_else(|| Error::invalid(format!("'{text}' is not a time")))?;
    Ok(utc(dt))
}

pub(crate) fn text(value: &str, what: &'static str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::field(
            what,
            format!(
                "the {} must be text of at most {max} characters",
                what.replace('_', " ")
            ),
        ));
    }
    Ok(v.to_string())
}

pub(crate) fn items_text(items: &[String]) -> Result<String> {
    for i in items {
        if i.trim().is_empty() || i.len() > 100 || i.chars().any(char::is_control) {
            return Err(Error::invalid(format!("'{i}' is not an item name")));
        }
    }
    Ok(items.iter().map(|i| i.trim()).collect::<Vec<_>>().join(","))
}

pub(crate) fn load(conn: &Connection, id: i64) -> Result<Incident> {
    type Row = (
        String,
        Option<String>,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let r: Row = conn
        .query_row(
            "SELECT detected_at, reported_at, summary, items, actions, improvement, opened_by, opened_at, closed_by, closed_at, close_note
             FROM incidents WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?,
                    r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("incident {id}")))?;
    let updates = conn
        .prepare(
            "SELECT at, made_by, what FROM incident_updates WHERE incident_id = ?1 ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(Update {
                at: r.get(0)?,
                by: r.get(1)?,
                what: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Incident {
        id,
        detected_at: r.0,
        reported_at: r.1,
        summary: r.2,
        items: r
            .3
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        actions: r.4,
        improvement: r.5,
        opened_by: r.6,
        opened_at: r.7,
        closed_by: r.8,
        closed_at: r.9,
        close_note: r.10,
        updates,
    })
}

pub(crate) fn record_update(tx: &Transaction, id: i64, by: &str, what: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO incident_updates (incident_id, at, made_by, what) VALUES (?1, ?2, ?3, ?4)",
        params![id, audit::now(), by, what],
    )?;
    Ok(())
}

/// All incidents, oldest first; only open ones unless `all`.
pub fn list(conn: &Connection, all: bool) -> Result<Vec<Incident>> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM incidents WHERE ?1 OR closed_at IS NULL ORDER BY id")?
        .query_map([all], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter().map(|id| load(conn, id)).collect()
}

pub(crate) fn report_html(council: &str, incidents: &[Incident]) -> String {
    let today = chrono::Utc::now()
        .with_timezone(&crate::time::japan())
        .date_naive();
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n<title>情報セキュリティインシデント記録</title>\n\
         <style>body{{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:2em}}h1{{font-size:1.3em;text-align:center}}\
         table{{border-collapse:collapse;width:100%;margin-bottom:1.5em;font-size:0.85em}}th,td{{border:1px solid #000;padding:4px;vertical-align:top;white-space:pre-wrap}}\
         th{{background:#eee;width:22%;text-align:left}}.date{{text-align:right}}</style>\n</head>\n<body>\n\
         <p class=\"date\">{}</p>\n<h1>情報セキュリティインシデント記録</h1>\n<p>協議会名：{}</p>\n",
        crate::wareki::format(today),
        esc(council)
    );
    if incidents.is_empty() {
        s.push_str("<p>記録されたインシデントはありません。</p>\n");
    }
    for i in incidents {
        let rows = [
            ("番号", i.id.to_string()),
            ("発見日時", i.detected_at.clone()),
            (
                "労働局への報告日時",
                i.reported_at.clone().unwrap_or_else(|| "未報告".into()),
            ),
            ("事案の内容", i.summary.clone()),
            ("影響を受けた情報", i.items.join("、")),
            ("対応", i.actions.clone()),
            ("再発防止策", i.improvement.clone()),
            ("記録者", format!("{}（{}）", i.opened_by, i.opened_at)),
            (
                "状態",
                match (&i.closed_at, &i.closed_by, &i.close_note) {
                    (Some(at), Some(by), Some(note)) => format!("完了 {at}（{by}）：{note}"),
                    _ => "対応中".into(),
                },
            ),
            (
                "経過",
                i.updates
                    .iter()
                    .map(|u| format!("{} {}：{}", u.at, u.by, u.what))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ];
        s.push_str("<table>\n");
        for (k, v) in rows {
            s.push_str(&format!("<tr><th>{k}</th><td>{}</td></tr>\n", esc(&v)));
        }
        s.push_str("</table>\n");
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_japan_time_or_rfc3339() {
        assert_eq!(
            parse_time("2026-04-01 09:30").unwrap(),
            "2026-04-01T00:30:00Z"
        );
        assert_eq!(parse_time("2026-04-01").unwrap(), "2026-03-31T15:00:00Z");
        assert_eq!(
            parse_time("2026-04-01T00:30:00Z").unwrap(),
            "2026-04-01T00:30:00Z"
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn the_report_escapes_what_people_typed() {
        let i = Incident {
            id: 1,
            detected_at: "t".into(),
            reported_at: None,
            summary: "<script>x</script>".into(),
            items: vec![],
            actions: String::new(),
            improvement: String::new(),
            opened_by: "a".into(),
            opened_at: "t".into(),
            closed_by: None,
            closed_at: None,
            close_note: None,
            updates: vec![],
        };
        assert!(!report_html("c", &[i]).contains("<script>"));
    }
}
