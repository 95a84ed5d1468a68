//! Printed forms in Japanese with 令和 dates. Every value a person typed is
//! escaped as text (never markup), and CSV cells that a spreadsheet would
//! run as formulas are defused.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::roster::{Entry, Roster};
use crate::wareki;

/// Both rosters, as one printable HTML page and a CSV file per roster.
#[derive(Debug, Clone, Serialize)]
pub struct RosterExport {
    pub html: String,
    pub handlers_csv: String,
    pub workers_csv: String,
}

pub(crate) fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// A date stored as YYYY-MM-DD, written in the era form.
fn era(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(wareki::format)
        .unwrap_or_else(|_| date.to_string())
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

type Column = (&'static str, fn(&Entry) -> String);

const HANDLER_COLUMNS: &[Column] = &[
    ("ID", |e| e.person.clone()),
    ("氏名", |e| e.fields.name.clone()),
    ("住所", |e| opt(&e.fields.address)),
    ("生年月日", |e| {
        e.fields.birth_date.as_deref().map(era).unwrap_or_default()
    }),
    ("所属", |e| e.fields.department.clone()),
    ("役職", |e| e.fields.position.clone()),
    ("役割", |e| opt(&e.fields.duty)),
    ("再委託先", |e| opt(&e.fields.organisation)),
    ("承認番号", |e| e.approved_ref.clone()),
    ("承認日", |e| era(&e.approved_date)),
];

const WORKER_COLUMNS: &[Column] = &[
    ("ID", |e| e.person.clone()),
    ("氏名", |e| e.fields.name.clone()),
    ("所属", |e| e.fields.department.clone()),
    ("役職", |e| e.fields.position.clone()),
    ("学歴", |e| opt(&e.fields.education)),
    ("職歴", |e| opt(&e.fields.work_history)),
    ("業務経験", |e| opt(&e.fields.experience)),
    ("研修実績", |e| opt(&e.fields.training)),
    ("専門性", |e| opt(&e.fields.expertise)),
    ("母語", |e| opt(&e.fields.native_language)),
    ("外国語", |e| opt(&e.fields.foreign_languages)),
    ("国籍", |e| opt(&e.fields.nationality)),
    ("承認番号", |e| e.approved_ref.clone()),
    ("承認日", |e| era(&e.approved_date)),
];

fn html_table(entries: &[&Entry], columns: &[Column]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for (h, _) in columns {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for e in entries {
        s.push_str("<tr>");
        for (_, f) in columns {
            s.push_str(&format!("<td>{}</td>", esc(&f(e))));
        }
        s.push_str("</tr>\n");
    }
    if entries.is_empty() {
        s.push_str(&format!(
            "<tr><td colspan=\"{}\">（該当者なし）</td></tr>\n",
            columns.len()
        ));
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// A spreadsheet runs a cell that starts with one of these as a formula.
pub(crate) fn defuse(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn csv(entries: &[&Entry], columns: &[Column]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns.iter().map(|(h, _)| *h))
        .map_err(|e| Error::invalid(format!("CSV: {e}")))?;
    for e in entries {
        w.write_record(columns.iter().map(|(_, f)| defuse(f(e))))
            .map_err(|e| Error::invalid(format!("CSV: {e}")))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::invalid(format!("CSV: {e}")))?;
    // A byte-order mark so that spreadsheet programs read it as UTF-8.
    Ok(format!(
        "\u{feff}{}",
        String::from_utf8(bytes).expect("CSV of UTF-8 text is UTF-8")
    ))
}

const STYLE: &str = "body{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:2em}\
h1{font-size:1.4em;text-align:center}p.meta{text-align:right}\
table{border-collapse:collapse;width:100%;margin-bottom:2em;font-size:0.85em}\
th,td{border:1px solid #000;padding:4px;vertical-align:top}th{background:#eee}\
@media print{section{page-break-after:always}}";

/// Build the roster documents. `made_by` is who printed them.
pub fn rosters(council: &str, entries: &[Entry], made_by: &str) -> Result<RosterExport> {
    let today = wareki::format(
        chrono::Utc::now()
            .with_timezone(&crate::time::japan())
            .date_naive(),
    );
    let of = |r: Roster| entries.iter().filter(|e| e.roster == r).collect::<Vec<_>>();
    let (handlers, workers) = (of(Roster::Handler), of(Roster::Worker));
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head><meta charset=\"utf-8\"><title>名簿</title><style>{STYLE}</style></head>\n<body>\n"
    );
    for (roster, list, columns) in [
        (Roster::Handler, &handlers, HANDLER_COLUMNS),
        (Roster::Worker, &workers, WORKER_COLUMNS),
    ] {
        html.push_str(&format!(
            "<section>\n<h1>{}</h1>\n<p class=\"meta\">{}<br>協議会名：{}<br>作成者：{}</p>\n{}</section>\n",
            roster.title_ja(),
            esc(&today),
            esc(council),
            esc(made_by),
            html_table(list, columns)
        ));
    }
    html.push_str("</body>\n</html>\n");
    Ok(RosterExport {
        html,
        handlers_csv: csv(&handlers, HANDLER_COLUMNS)?,
        workers_csv: csv(&workers, WORKER_COLUMNS)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::RosterFields;

    #[test]
    fn names_are_text_never_markup_and_csv_formulas_are_defused() {
        let e = Entry {
            roster: Roster::Handler,
            person: "x".into(),
            fields: RosterFields {
                name: "<img src=x onerror=alert(1)>".into(),
                department: "=HYPERLINK(\"http://evil\")".into(),
                position: "主任".into(),
                address: Some("東京都".into()),
                birth_date: Some("1980-04-01".into()),
                ..Default::default()
            },
            approved_ref: "労発1号".into(),
            approved_date: "2026-04-01".into(),
        };
        let out = rosters("<b>協議会</b>", &[e], "officer").unwrap();
        assert!(
            !out.html.contains("<img") && out.html.contains("&lt;img src=x onerror=alert(1)&gt;")
        );
        assert!(!out.html.contains("<b>協議会"));
        assert!(!out.html.contains("<script"));
        assert!(out.html.contains("昭和55年4月1日") && out.html.contains("令和8年4月1日"));
        assert!(out.handlers_csv.contains("'=HYPERLINK"));
    }
}
