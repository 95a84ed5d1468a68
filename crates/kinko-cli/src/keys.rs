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

/// Upgrade a vault an earlier release made (the officer, once, with the
/// recovery code): certificates from now on.
pub fn upgrade(ui: &Ui, g: &Global) -> Out {
    let vault = crate::ui::open_vault(g)?;
    let Some(user) = &g.user else {
        return Err(kinko_core::Error::NotSignedIn(
            "the upgrade is the officer's: give --user (or KINKO_USER)".into(),
        )
        .into());
    };
    let pw = auth::password(g, &format!("Password for {user}: "), false)?;
    let code = auth::recovery_code()?;
    let report = vault.upgrade(
        user,
        &pw,
        auth::totp().as_deref(),
        code.as_str(),
        &kinko_core::vault::local_terminal(),
    )?;
    ui.show(&report, || {
        format!(
            "{}\n{} {}\n{} {}",
            ui.t(
                "金庫を更新しました。これからは情報管理責任者の認証が要ります。",
                "The vault is upgraded: accounts now need the officer's certification.",
            ),
            ui.t(
                "次回のサインインで新しいパスワードを決め、鍵の指紋を責任者に見せる人:",
                "People who choose a new password at their next sign-in and show the officer their key fingerprint:",
            ),
            if report.awaiting_certification.is_empty() {
                "-".to_string()
            } else {
                report.awaiting_certification.join(", ")
            },
            ui.t(
                "認証後に kinko account recover で戻す文書の鍵:",
                "Document keys to give back with kinko account recover once they are certified:",
            ),
            report.set_aside
        )
    })
}
