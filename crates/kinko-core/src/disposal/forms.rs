//! 別添1 (作業実施計画書) and 別添2 (作業完了報告書) as printable HTML,
//! laid out as the forms are: date, title, 協議会名, the sentence, 記, the
//! table of 情報の種類 / 情報の保存場所 / 作業の方法 / 作業の確認方法 /
//! 作業実施者 / 作業確認者 with its notes, and the (planned) completion
//! date, all dates in the 令和 form. Every value is escaped as text.

use chrono::NaiveDate;

use super::{Completion, Plan, PlanItem};
use crate::forms::esc;
use crate::time::japan;
use crate::wareki;

const STYLE: &str = "body{font-family:'Noto Sans CJK JP','IPAexGothic',serif;margin:2.5em;line-height:1.6}\
.annex{margin:0}.date{text-align:right}h1{font-size:1.2em;text-align:center;margin:1.5em 0}\
.council{margin:1em 0}.ki{text-align:center;margin:1em 0}\
table{border-collapse:collapse;width:100%;font-size:0.85em;margin:0.5em 0}\
th,td{border:1px solid #000;padding:4px;vertical-align:top}th{background:#f2f2f2;font-weight:normal}\
.notes{font-size:0.8em}.seal{font-size:0.75em;color:#444;margin-top:2em;word-break:break-all}";

const NOTES: &str = "<div class=\"notes\">\
<p>（注1）「紙媒体」、「電磁的記録媒体」のいずれかを記載すること。</p>\
<p>（注2）「キャビネット」、「外部電磁的記録媒体（CD-R、USB メモリ等）」、「端末」、「サーバ装置」等を記載すること。</p>\
<p>（注3）返却の場合：「返却」と記載すること。<br>廃棄・抹消の場合：「焼却」、「溶解」、「裁断」、「消去（データ抹消ソフトウェア）」等を記載すること。</p>\
</div>\n";

use crate::time::japan_day as day_of;

/// A stored time as a 令和 date and Japan time.
fn era_time(at: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => {
            let local = t.with_timezone(&japan());
            format!(
                "{} {}",
                wareki::format(local.date_naive()),
                local.format("%H:%M")
            )
        }
        Err(_) => at.to_string(),
    }
}

/// A stored day (YYYY-MM-DD) as a 令和 date.
fn era_day(day: &str) -> String {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(wareki::format)
        .unwrap_or_else(|_| day.to_string())
}

fn table(plan: &Plan) -> String {
    let mut s = String::from(
        "<table>\n<thead><tr><th>情報の種類（注1）</th><th>情報の保存場所（注2）</th><th>作業の方法（注3）</th>\
         <th>作業の確認方法</th><th>作業実施者</th><th>作業確認者</th></tr></thead>\n<tbody>\n",
    );
    for PlanItem {
        label,
        kind,
        location,
        method,
        check,
        ..
    } in &plan.items
    {
        s.push_str(&format!(
            "<tr><td>{}<br>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(kind),
            esc(label),
            esc(location),
            esc(method),
            esc(check),
            esc(&plan.executor.name),
            esc(&plan.confirmer.name),
        ));
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

fn page(
    annex: &str,
    title: &str,
    date: NaiveDate,
    council: &str,
    sentence: &str,
    body: &str,
) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <p class=\"annex\">（{annex}）</p>\n<p class=\"date\">{}</p>\n<h1>{title}</h1>\n\
         <p class=\"council\">協議会名：{}</p>\n<p>{sentence}</p>\n<p class=\"ki\">記</p>\n<p>1　情報の保存媒体</p>\n{body}</body>\n</html>\n",
        wareki::format(date),
        esc(council),
    )
}

/// 別添1: the disposal work plan.
pub fn plan_html(plan: &Plan, sha256: &str) -> String {
    let title = "本業務に係る情報の返却又は廃棄若しくは抹消に係る作業実施計画書";
    let body = format!(
        "{}{NOTES}<p>2　全ての作業が完了する予定日</p>\n<p>　　{}</p>\n\
         <p class=\"seal\">計画番号 {}／計画の SHA-256：{}／作成者の個人鍵で署名（kinko verify-report で確認できます）</p>\n",
        table(plan),
        wareki::format(plan.planned_date),
        plan.plan,
        esc(sha256),
    );
    page(
        "別添1",
        title,
        day_of(&plan.made_at),
        &plan.council,
        "本業務において貴局から受領した情報及び作成された情報については、下記のとおり返却又は廃棄若しくは抹消する予定です。",
        &body,
    )
}

/// Who confirmed, as the report's seal says (the seal itself follows as
/// a comment line inside the signed part).
fn confirmer_line(c: &Completion) -> String {
    let Some(found) = c
        .confirmation
        .as_ref()
        .and_then(|s| s.check(&c.audit.vault_id, Some(c)).ok())
    else {
        return String::new();
    };
    let by = if found.carried_over {
        "（移行前の確認を情報管理責任者が移行時に署名）".to_string()
    } else {
        String::new()
    };
    format!(
        "確認者の署名：{}（{}）{by}、鍵の指紋 {}、証明書の発行者 {}<br>",
        esc(&found.name),
        esc(&found.account),
        esc(&found.key_fingerprint),
        esc(&found.certified_by),
    )
}

/// 別添2: the completion report.
pub fn report_html(c: &Completion) -> String {
    let title = "本業務に係る情報の返却又は廃棄若しくは抹消に係る作業完了報告書";
    let checks: Vec<String> = c
        .checks
        .iter()
        .map(|k| {
            format!(
                "{}：残存鍵 {}、暗号文ファイル {}、読み出し {}{}",
                esc(&k.item),
                k.keys_left,
                if k.object_present { "あり" } else { "なし" },
                if k.readable { "可" } else { "不可" },
                // Confirmations that kept what they tried (E3) say so.
                if k.tried.is_empty() {
                    ""
                } else {
                    "（確認者の鍵と回復コードの鍵で読み出しを試行）"
                }
            )
        })
        .collect();
    let body = format!(
        "{}{NOTES}<p>2　全ての作業が完了した日</p>\n<p>　　{}</p>\n\
         <p class=\"seal\">計画番号 {}（SHA-256：{}）／承認：{}（{}）／実施：{}（{}）／確認：{}（{}）<br>\
         確認結果：{}<br>監査ログ：{} 件、ルートハッシュ {}（{} 署名）<br>\
         {}作成者の個人鍵で署名（kinko verify-report で確認できます）</p>\n{}",
        table(&c.plan),
        wareki::format(c.completed_date),
        c.plan.plan,
        esc(&c.plan_sha256),
        esc(&c.approved_ref),
        esc(&era_day(&c.approved_date)),
        esc(&c.executed_by),
        esc(&era_time(&c.executed_at)),
        esc(&c.confirmed_by),
        esc(&era_time(&c.confirmed_at)),
        checks.join("；"),
        c.audit.size,
        esc(&c.audit.root),
        esc(&era_time(&c.audit.at)),
        confirmer_line(c),
        c.confirmation.as_ref().map(|s| s.html_line()).unwrap_or_default(),
    );
    page(
        "別添2",
        title,
        c.completed_date,
        &c.plan.council,
        "本業務において貴局から受領した情報及び作成された情報については、下記のとおり返却又は廃棄若しくは抹消しましたので、報告します。",
        &body,
    )
}
