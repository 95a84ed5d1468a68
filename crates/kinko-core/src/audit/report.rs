//! Analysis of the trail (A4): events of a period counted by day, person,
//! event and document, with the refusals and alerts, as a printable HTML
//! report (inline SVG chart, no scripts; Japanese with 令和 dates, or
//! English), CSV and JSON. Days are Japan days (UTC+9).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use rusqlite::Connection;
use serde::Serialize;

use super::alerts::{self, Alert};
use super::checkpoint::Checkpoint;
use super::{Record, OK};
use crate::error::{Error, Result};
use crate::forms::{defuse, esc};
use crate::wareki;

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub council: String,
    pub vault_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub made_by: String,
    pub made_at: String,
    /// The tree as the report was made, signed.
    pub checkpoint: Checkpoint,
    pub events: u64,
    pub refused: u64,
    pub by_day: Vec<DayCount>,
    pub by_person: Vec<PersonCount>,
    pub by_event: Vec<EventCount>,
    pub by_document: Vec<DocumentCount>,
    /// Every event of the period whose outcome was not `ok`.
    pub refusals: Vec<Record>,
    pub alerts: Vec<Alert>,
    /// Rows of (day, actor, event, outcome, count) for spreadsheets.
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DayCount {
    pub day: NaiveDate,
    pub events: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PersonCount {
    pub actor: String,
    pub events: u64,
    /// Documents viewed in the app or exported.
    pub opened: u64,
    /// Of those, exported.
    pub exported: u64,
    pub refused: u64,
    pub failed_signins: u64,
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EventCount {
    pub event: String,
    pub events: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DocumentCount {
    pub document: String,
    pub events: u64,
    /// Times viewed in the app or exported.
    pub opened: u64,
    /// Of those, exported.
    pub exported: u64,
    pub people: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub day: NaiveDate,
    pub actor: String,
    pub event: String,
    pub outcome: String,
    pub count: u64,
}

pub(crate) use crate::time::day_bounds as utc_bounds;
use crate::time::japan_day;

/// What is being reported on, and for whom.
pub struct Period<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub council: &'a str,
    pub vault_id: &'a str,
    pub made_by: &'a str,
}

/// Count the events of the period. The checkpoint is signed for the tree
/// as it stands, so a printed report names the trail it came from.
pub fn build(conn: &Connection, p: &Period, signer: &crate::grant::Signer) -> Result<AuditReport> {
    use chrono::Datelike;
    for d in [p.from, p.to] {
        if !(2000..=9999).contains(&d.year()) {
            return Err(Error::invalid(format!(
                "{d} is outside the years a report can cover (2000 to 9999)"
            )));
        }
    }
    if p.from > p.to {
        return Err(Error::invalid(format!(
            "the report period ends ({}) before it starts ({})",
            p.to, p.from
        )));
    }
    if p.to - p.from > Duration::days(3660) {
        return Err(Error::invalid("a report covers at most ten years"));
    }
    let (start, end) = utc_bounds(p.from, p.to);
    let mut counts = Counts::new(p.from, p.to);
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM audit_events WHERE at >= ?1 AND at < ?2 ORDER BY seq",
        super::RECORD_COLUMNS
    ))?;
    let mut rows = stmt.query([&start, &end])?;
    while let Some(r) = rows.next()? {
        counts.add(super::record_from_row(r)?);
    }
    let checkpoint = Checkpoint::make(conn, signer)?;
    Ok(counts.finish(p, checkpoint, alerts::between(conn, &start, &end)?))
}

/// Running totals while the events stream past.
struct Counts {
    days: BTreeMap<NaiveDate, DayCount>,
    people: BTreeMap<String, PersonCount>,
    events: BTreeMap<String, EventCount>,
    documents: BTreeMap<String, (DocumentCount, BTreeSet<String>)>,
    rows: BTreeMap<(NaiveDate, String, String, String), u64>,
    refusals: Vec<Record>,
    total: u64,
}

impl Counts {
    pub(crate) fn new(from: NaiveDate, to: NaiveDate) -> Self {
        let days = from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|day| {
                (
                    day,
                    DayCount {
                        day,
                        ..Default::default()
                    },
                )
            })
            .collect();
        Counts {
            days,
            people: BTreeMap::new(),
            events: BTreeMap::new(),
            documents: BTreeMap::new(),
            rows: BTreeMap::new(),
            refusals: Vec::new(),
            total: 0,
        }
    }

    fn add(&mut self, r: Record) {
        let e = &r.event;
        let refused = u64::from(e.outcome != OK);
        let opened = u64::from(super::event::is_content_access(e));
        let exported = u64::from(super::event::is_export(e));
        let day = japan_day(&e.at);
        self.total += 1;
        let d = self.days.entry(day).or_insert_with(|| DayCount {
            day,
            ..Default::default()
        });
        d.events += 1;
        d.refused += refused;
        let person = self
            .people
            .entry(e.actor.clone())
            .or_insert_with(|| PersonCount {
                actor: e.actor.clone(),
                first: e.at.clone(),
                ..Default::default()
            });
        person.events += 1;
        person.opened += opened;
        person.exported += exported;
        person.refused += refused;
        person.failed_signins += u64::from(e.event == "session.signin" && refused == 1);
        person.last = e.at.clone();
        let ev = self
            .events
            .entry(e.event.clone())
            .or_insert_with(|| EventCount {
                event: e.event.clone(),
                ..Default::default()
            });
        ev.events += 1;
        ev.refused += refused;
        if e.object.starts_with("document:") {
            let (doc, people) = self.documents.entry(e.object.clone()).or_insert_with(|| {
                (
                    DocumentCount {
                        document: e.object.clone(),
                        ..Default::default()
                    },
                    BTreeSet::new(),
                )
            });
            doc.events += 1;
            doc.opened += opened;
            doc.exported += exported;
            people.insert(e.actor.clone());
        }
        *self
            .rows
            .entry((day, e.actor.clone(), e.event.clone(), e.outcome.clone()))
            .or_default() += 1;
        if refused == 1 {
            self.refusals.push(r);
        }
    }

    fn finish(self, p: &Period, checkpoint: Checkpoint, alerts: Vec<Alert>) -> AuditReport {
        let refused = self.refusals.len() as u64;
        let mut by_person: Vec<_> = self.people.into_values().collect();
        by_person.sort_by(|a, b| b.events.cmp(&a.events).then(a.actor.cmp(&b.actor)));
        let mut by_event: Vec<_> = self.events.into_values().collect();
        by_event.sort_by(|a, b| b.events.cmp(&a.events).then(a.event.cmp(&b.event)));
        let mut by_document: Vec<_> = self
            .documents
            .into_values()
            .map(|(mut d, people)| {
                d.people = people.len() as u64;
                d
            })
            .collect();
        by_document.sort_by(|a, b| b.events.cmp(&a.events).then(a.document.cmp(&b.document)));
        AuditReport {
            council: p.council.into(),
            vault_id: p.vault_id.into(),
            from: p.from,
            to: p.to,
            made_by: p.made_by.into(),
            made_at: super::now(),
            checkpoint,
            events: self.total,
            refused,
            by_day: self.days.into_values().collect(),
            by_person,
            by_event,
            by_document,
            refusals: self.refusals,
            alerts,
            rows: self
                .rows
                .into_iter()
                .map(|((day, actor, event, outcome), count)| Row {
                    day,
                    actor,
                    event,
                    outcome,
                    count,
                })
                .collect(),
        }
    }
}

/// The language of the printed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Japanese,
    English,
}

impl AuditReport {
    /// Spreadsheet rows: one per day, person, event and outcome.
    pub fn csv(&self) -> Result<String> {
        let fail = |e: csv::Error| Error::invalid(format!("CSV: {e}"));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["day", "actor", "event", "outcome", "count"])
            .map_err(fail)?;
        for r in &self.rows {
            w.write_record([
                r.day.to_string(),
                defuse(r.actor.clone()),
                defuse(r.event.clone()),
                r.outcome.clone(),
                r.count.to_string(),
            ])
            .map_err(fail)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::invalid(format!("CSV: {e}")))?;
        Ok(String::from_utf8(bytes).expect("CSV of UTF-8 text is UTF-8"))
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// The printable page.
    pub fn html(&self, lang: Language) -> String {
        let t =
            |ja: &'static str, en: &'static str| if lang == Language::Japanese { ja } else { en };
        let date = |d: NaiveDate| match lang {
            Language::Japanese => wareki::format(d),
            Language::English => d.format("%-d %B %Y").to_string(),
        };
        let mut s = String::with_capacity(64 * 1024);
        s.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            t("ja", "en"),
            t("監査ログ分析報告書", "Audit trail report")
        ));
        s.push_str(&format!(
            "<h1>{}</h1>\n",
            t("監査ログ分析報告書", "Audit trail report")
        ));
        s.push_str(&format!(
            "<p class=\"meta\">{}: {}<br>{}: {} – {}<br>{}: {} ({})</p>\n",
            t("協議会", "Council"),
            esc(&self.council),
            t("対象期間", "Period"),
            date(self.from),
            date(self.to),
            t("作成", "Made by"),
            esc(&self.made_by),
            esc(&self.made_at),
        ));
        s.push_str(&format!("<h2>{}</h2>\n", t("概要", "Summary")));
        s.push_str(&simple_table(
            &[t("項目", "Item"), t("値", "Value")],
            &[
                vec![t("イベント数", "Events").into(), self.events.to_string()],
                vec![
                    t("拒否・失敗", "Refused or failed").into(),
                    self.refused.to_string(),
                ],
                vec![
                    t("アラート", "Alerts").into(),
                    self.alerts.len().to_string(),
                ],
                vec![
                    t("監査ログの件数(全体)", "Events in the whole trail").into(),
                    self.checkpoint.size.to_string(),
                ],
                vec![
                    t("ルートハッシュ", "Root hash").into(),
                    self.checkpoint.root.clone(),
                ],
                vec![
                    t("署名時刻", "Signed at").into(),
                    self.checkpoint.at.clone(),
                ],
            ],
        ));
        s.push_str(&format!(
            "<h2>{}</h2>\n",
            t("日別のイベント数", "Events per day")
        ));
        s.push_str(&chart(&self.by_day, lang));
        s.push_str(&format!("<h2>{}</h2>\n", t("利用者別", "By person")));
        s.push_str(&simple_table(
            &[
                t("利用者", "Person"),
                t("イベント", "Events"),
                t("文書の閲覧・持ち出し（回）", "Views and exports"),
                t("うち持ち出し", "Of which exported"),
                t("拒否・失敗", "Refused"),
                t("サインイン失敗", "Failed sign-ins"),
                t("最初", "First"),
                t("最後", "Last"),
            ],
            &self
                .by_person
                .iter()
                .map(|p| {
                    vec![
                        p.actor.clone(),
                        p.events.to_string(),
                        p.opened.to_string(),
                        p.exported.to_string(),
                        p.refused.to_string(),
                        p.failed_signins.to_string(),
                        p.first.clone(),
                        p.last.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        s.push_str(&format!("<h2>{}</h2>\n", t("操作別", "By event")));
        s.push_str(&simple_table(
            &[
                t("操作", "Event"),
                t("件数", "Count"),
                t("拒否・失敗", "Refused"),
            ],
            &self
                .by_event
                .iter()
                .map(|e| vec![e.event.clone(), e.events.to_string(), e.refused.to_string()])
                .collect::<Vec<_>>(),
        ));
        s.push_str(&format!("<h2>{}</h2>\n", t("文書別", "By document")));
        s.push_str(&simple_table(
            &[
                t("文書", "Document"),
                t("イベント", "Events"),
                t("閲覧・持ち出し（回）", "Views and exports"),
                t("うち持ち出し", "Of which exported"),
                t("人数", "People"),
            ],
            &self
                .by_document
                .iter()
                .map(|d| {
                    vec![
                        d.document.clone(),
                        d.events.to_string(),
                        d.opened.to_string(),
                        d.exported.to_string(),
                        d.people.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        s.push_str(&format!("<h2>{}</h2>\n", t("アラート", "Alerts")));
        s.push_str(&simple_table(
            &[
                "#",
                t("規則", "Rule"),
                t("日時(UTC)", "Time (UTC)"),
                t("内容", "Summary"),
                t("確認", "Acknowledged"),
            ],
            &self
                .alerts
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.rule.clone(),
                        a.at.clone(),
                        a.summary.clone(),
                        match (&a.acked_by, &a.ack_note) {
                            (Some(by), Some(n)) => format!("{by}: {n}"),
                            _ => t("未確認", "open").into(),
                        },
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        s.push_str(&format!(
            "<h2>{}</h2>\n",
            t("拒否・失敗した操作", "Refused and failed actions")
        ));
        s.push_str(&simple_table(
            &[
                "#",
                t("日時(UTC)", "Time (UTC)"),
                t("利用者", "Person"),
                t("操作", "Event"),
                t("対象", "Object"),
                t("結果", "Outcome"),
                t("詳細", "Detail"),
            ],
            &self
                .refusals
                .iter()
                .map(|r| {
                    let e = &r.event;
                    vec![
                        r.seq.to_string(),
                        e.at.clone(),
                        e.actor.clone(),
                        e.event.clone(),
                        e.object.clone(),
                        e.outcome.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        s.push_str("</body>\n</html>\n");
        s
    }
}

const STYLE: &str = "body{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:2em}\
h1{font-size:1.4em;text-align:center}h2{font-size:1.1em;margin-top:1.5em}p.meta{text-align:right}\
table{border-collapse:collapse;width:100%;margin-bottom:1em;font-size:0.8em}\
th,td{border:1px solid #000;padding:3px;vertical-align:top;word-break:break-all}th{background:#eee}\
svg{width:100%;height:auto}.bar{fill:#4a6fa5}.refused{fill:#c0392b}.axis{stroke:#000}\
.label{font-size:11px}";

/// Every cell is text, escaped.
fn simple_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in headers {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    if rows.is_empty() {
        s.push_str(&format!(
            "<tr><td colspan=\"{}\">—</td></tr>\n",
            headers.len()
        ));
    }
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            s.push_str(&format!("<td>{}</td>", esc(cell)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// A bar per day (refusals in red on top of the rest), drawn as inline
/// SVG so the page needs no script and prints as it shows.
fn chart(days: &[DayCount], lang: Language) -> String {
    let (w, h, left, bottom) = (760.0f64, 220.0f64, 40.0f64, 30.0f64);
    let max = days.iter().map(|d| d.events).max().unwrap_or(0).max(1);
    let n = days.len().max(1) as f64;
    let slot = (w - left) / n;
    let bar = (slot * 0.8).max(0.5);
    let scale = (h - bottom - 10.0) / max as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\">\n\
         <line class=\"axis\" x1=\"{left}\" y1=\"{y0}\" x2=\"{w}\" y2=\"{y0}\"/>\n\
         <line class=\"axis\" x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{y0}\"/>\n\
         <text class=\"label\" x=\"{lx}\" y=\"20\" text-anchor=\"end\">{max}</text>\n\
         <text class=\"label\" x=\"{lx}\" y=\"{y0}\" text-anchor=\"end\">0</text>\n",
        y0 = h - bottom,
        lx = left - 4.0,
    );
    for (i, d) in days.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar) / 2.0;
        let ok = (d.events - d.refused) as f64 * scale;
        let bad = d.refused as f64 * scale;
        let base = h - bottom;
        let tip = match lang {
            Language::Japanese => format!("{}: {}件(拒否・失敗 {}件)", d.day, d.events, d.refused),
            Language::English => format!("{}: {} events ({} refused)", d.day, d.events, d.refused),
        };
        s.push_str(&format!(
            "<g><title>{}</title><rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{ok:.1}\"/>\
             <rect class=\"refused\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bad:.1}\"/></g>\n",
            esc(&tip),
            base - ok,
            base - ok - bad,
        ));
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        s.push_str(&format!(
            "<text class=\"label\" x=\"{left}\" y=\"{}\">{}</text>\n<text class=\"label\" x=\"{w}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            h - 10.0,
            first.day,
            h - 10.0,
            last.day
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_days_start_at_15_utc() {
        let d = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let (start, end) = utc_bounds(d, d);
        assert_eq!(start, "2026-03-31T15:00:00.000000Z");
        assert_eq!(end, "2026-04-01T15:00:00.000000Z");
        assert_eq!(japan_day("2026-03-31T15:00:00.000000Z"), d);
        assert_eq!(
            japan_day("2026-03-31T14:59:59.999999Z"),
            d.pred_opt().unwrap()
        );
    }

    #[test]
    fn chart_and_tables_escape_what_people_typed() {
        let html = simple_table(&["a"], &[vec!["<script>alert(1)</script>".into()]]);
        assert!(!html.contains("<script>"));
        let svg = chart(
            &[DayCount {
                day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                events: 3,
                refused: 1,
            }],
            Language::English,
        );
        assert!(svg.starts_with("<svg") && svg.contains("3 events (1 refused)"));
    }
}
