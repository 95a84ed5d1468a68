//! `kinko rekey`: parse, call the core, show progress and the result.

use std::io::Write;

use crate::args::Global;
use crate::auth;
use crate::ui::{session, Out, Ui};

pub fn rekey(ui: &Ui, g: &Global, suite: Option<u16>) -> Out {
    let mut s = session(g)?;
    let code = auth::recovery_code()?;
    let label = ui.t("再暗号化", "re-encrypting");
    let docs = ui.t("文書", "documents");
    // One line per document on standard error: a person sees it move, a
    // script can follow it, and standard output keeps only the result.
    let mut progress = |done: u64, total: u64| {
        let _ = writeln!(
            std::io::stderr(),
            "kinko rekey: {label} {done}/{total} {docs}"
        );
    };
    let r = s.rekey(suite, code.as_str(), &mut progress)?;
    ui.show_record(&r, || {
        vec![
            (ui.t("鍵世代", "Key epoch"), r.epoch.to_string()),
            (
                ui.t("暗号方式", "Content suite"),
                format!("{} ({})", r.suite, r.suite_name),
            ),
            (
                ui.t("再暗号化した文書", "Documents re-encrypted"),
                r.documents.to_string(),
            ),
            (
                ui.t("再開", "Resumed"),
                ui.t(
                    if r.resumed { "はい" } else { "いいえ" },
                    if r.resumed { "yes" } else { "no" },
                )
                .to_string(),
            ),
            (
                ui.t(
                    "旧い鍵のバックアップ（要消去）",
                    "Backups under older keys (destroy them)",
                ),
                format!("{:?}", r.older_backups),
            ),
            (
                ui.t("注意", "Note"),
                ui.t(
                    "全てのセッションを終了しました。もう一度サインインしてください。",
                    "Every session has ended: sign in again.",
                )
                .to_string(),
            ),
        ]
    })
}
