//! `kinko backup`, `kinko backups`, `kinko restore`: parse, call the core,
//! show.

use std::path::Path;

use anyhow::anyhow;
use kinko_core::backup::RestoreRequest;
use kinko_core::vault::local_terminal;
use kinko_core::Vault;

use crate::args::Global;
use crate::auth;
use crate::ui::{session, Out, Ui};

pub fn backup(ui: &Ui, g: &Global, out: &Path) -> Out {
    let b = session(g)?.backup(out)?;
    ui.show_record(&b, || {
        vec![
            (ui.t("バックアップ", "Backup"), b.id.to_string()),
            (ui.t("ファイル", "File"), b.path.clone()),
            (ui.t("鍵世代", "Key epoch"), b.epoch.to_string()),
            (ui.t("文書", "Documents"), b.documents.to_string()),
            (ui.t("大きさ", "Size"), b.size.to_string()),
            ("SHA-256", b.sha256.clone()),
        ]
    })
}

pub fn list(ui: &Ui, g: &Global) -> Out {
    let list = session(g)?.backups()?;
    ui.show_table(
        &list,
        &[
            ui.t("番号", "No."),
            ui.t("作成", "Made"),
            ui.t("作成者", "By"),
            ui.t("鍵世代", "Key epoch"),
            ui.t("大きさ", "Size"),
            ui.t("ファイル", "File"),
            ui.t("消去", "Destroyed"),
        ],
        |b| {
            vec![
                b.id.to_string(),
                b.made_at.clone(),
                b.made_by.clone(),
                b.epoch.to_string(),
                b.size.to_string(),
                b.path.clone(),
                b.destroyed_at.clone().unwrap_or_default(),
            ]
        },
    )
}

/// Sign in to the backup as `--user` with that account's password (as it
/// was when the backup was made).
pub fn restore(ui: &Ui, g: &Global, file: &Path, to: &Path) -> Out {
    let user = g.user.as_deref().ok_or_else(|| {
        anyhow!("restore signs in to the backup: give --user (or KINKO_USER) and the password")
    })?;
    let password = auth::password(g, &format!("Password for {user} (in the backup): "), false)?;
    let totp = auth::totp();
    let token = auth::token_access(g)?;
    // A backup of format 2 needs the recovery code as well: from the
    // environment, else asked at a terminal (without one, the core says
    // what is missing).
    let code = match auth::recovery_code_from_env() {
        Some(c) => Some(c),
        None if kinko_core::backup::needs_recovery_code(file)?
            && std::io::IsTerminal::is_terminal(&std::io::stdin()) =>
        {
            Some(auth::recovery_code()?.as_str().to_string())
        }
        None => None,
    };
    let r = Vault::restore(&RestoreRequest {
        backup: file,
        to,
        id: user,
        password: &password,
        totp: totp.as_deref(),
        terminal: &local_terminal(),
        recovery_code: code.as_deref(),
        token: token.as_ref(),
    })?;
    ui.show_record(&r, || {
        vec![
            (ui.t("復元先", "Restored to"), r.path.clone()),
            (ui.t("保管庫", "Vault"), r.vault_id.clone()),
            (ui.t("バックアップ", "Backup"), r.backup_uid.clone()),
            (ui.t("作成", "Made"), r.made_at.clone()),
            (ui.t("鍵世代", "Key epoch"), r.epoch.to_string()),
            (ui.t("文書", "Documents"), r.documents.to_string()),
            (ui.t("ファイル", "Files"), r.files.to_string()),
        ]
    })
}
