//! `kinko disposal …` and `kinko verify-report`: parse, call the core, show.

use std::path::{Path, PathBuf};

use kinko_core::disposal::{PlanRequest, PlanState};
use serde_json::json;

use crate::args::{DisposalCmd, Global};
use crate::ui::{date, read_input, refuse_taken, session, write_new_files, Out, Ui};

pub fn run(ui: &Ui, g: &Global, cmd: DisposalCmd) -> Out {
    match cmd {
        DisposalCmd::Plan {
            executor,
            confirmer,
            out,
            items,
            complete_by,
            returned,
        } => {
            let planned_date = complete_by.as_deref().map(date).transpose()?;
            let twin = twin_path(&out);
            refuse_taken(&[&out, &twin])?;
            let files = session(g)?.disposal_plan(&PlanRequest {
                executor: &executor,
                confirmer: &confirmer,
                items: items.as_deref(),
                planned_date,
                returned,
            })?;
            write_new_files(&[
                (out.clone(), files.html.as_bytes()),
                (twin.clone(), files.json.as_bytes()),
            ])?;
            ui.show(
                &json!({"plan": files.plan.plan, "sha256": files.sha256, "items": files.plan.items.len(), "files": [out, twin]}),
                || {
                    format!(
                        "{} {} ({} {})\nSHA-256: {}\n{}\n{}",
                        ui.t("作業実施計画書を書き出しました: 計画", "Disposal plan written: plan"),
                        files.plan.plan,
                        files.plan.items.len(),
                        ui.t("項目", "items"),
                        files.sha256,
                        out.display(),
                        twin.display()
                    )
                },
            )
        }
        DisposalCmd::Approve {
            reference,
            date: d,
            sha256,
        } => {
            let plan = session(g)?.disposal_approve(&reference, date(&d)?, &sha256)?;
            ui.show(&json!({"plan": plan, "approved": reference}), || {
                format!(
                    "{} {plan} ({reference})",
                    ui.t("承認を記録しました: 計画", "Approval recorded: plan")
                )
            })
        }
        DisposalCmd::Execute => {
            let s = session(g)?.disposal_execute()?;
            show_state(ui, &s)
        }
        DisposalCmd::Confirm => {
            let mut s = session(g)?;
            // Asked for here; without one the core says it is needed (after
            // it has said whether this person may confirm at all).
            let code = crate::auth::recovery_code().ok();
            let s = s.disposal_confirm(code.as_ref().map(|c| c.as_str()))?;
            show_state(ui, &s)
        }
        DisposalCmd::Status => {
            let s = session(g)?.disposal_status()?;
            show_state(ui, &s)
        }
        DisposalCmd::Report { out } => {
            let twin = twin_path(&out);
            refuse_taken(&[&out, &twin])?;
            let r = session(g)?.disposal_report()?;
            write_new_files(&[
                (out.clone(), r.html.as_bytes()),
                (twin.clone(), r.json.as_bytes()),
            ])?;
            ui.show(
                &json!({"plan": r.completion.plan.plan, "completed": r.completion.completed_date, "files": [out, twin]}),
                || {
                    format!(
                        "{} {}\n{}\n{}",
                        ui.t("作業完了報告書を書き出しました: 完了日", "Completion report written: completed"),
                        r.completion.completed_date,
                        out.display(),
                        twin.display()
                    )
                },
            )
        }
    }
}

fn show_state(ui: &Ui, s: &PlanState) -> Out {
    ui.show_record(s, || {
        let mut rows = vec![
            (ui.t("計画", "Plan"), s.plan.plan.to_string()),
            (ui.t("状態", "State"), s.state.clone()),
            ("SHA-256", s.sha256.clone()),
            (ui.t("項目数", "Items"), s.plan.items.len().to_string()),
            (ui.t("作業実施者", "Executor"), s.plan.executor.id.clone()),
            (ui.t("作業確認者", "Confirmer"), s.plan.confirmer.id.clone()),
            (
                ui.t("承認", "Approval"),
                s.approved_ref.clone().unwrap_or_else(|| "-".into()),
            ),
        ];
        if let Some(d) = &s.completed_date {
            rows.push((ui.t("完了日", "Completed"), d.clone()));
        }
        for c in &s.checks {
            rows.push((
                ui.t("確認", "Checked"),
                format!(
                    "{}: {}",
                    c.item,
                    if c.erased {
                        ui.t("読み出し不能", "unreadable")
                    } else {
                        ui.t("読み出し可能", "STILL READABLE")
                    }
                ),
            ));
        }
        rows
    })
}

/// Check a signed plan or report with no vault.
pub fn verify_report(ui: &Ui, file: &Path, key: Option<&str>, confirmer_key: Option<&str>) -> Out {
    let bytes = read_input(file)?;
    let found = kinko_core::disposal::confirmation::check_report(&bytes, key, confirmer_key)?;
    let c = &found.signed;
    let signer = match (&c.signer, &c.signer_name) {
        (Some(id), Some(name)) => format!("{name} ({id})"),
        _ => ui.t("金庫の監査鍵", "the vault's audit key").to_string(),
    };
    ui.show(&found, || {
        let mut line = format!(
            "{} {} ({} {}, {} {signer}, {} {})",
            ui.t(
                "署名は正しく、改変はありません:",
                "The signature holds; nothing was changed:"
            ),
            c.kind,
            ui.t("金庫", "vault"),
            c.vault_id,
            ui.t("署名者", "signed by"),
            ui.t("鍵の指紋", "key fingerprint"),
            c.key_fingerprint
        );
        if let Some(k) = &found.confirmer {
            line.push_str(&format!(
                "\n{} {} ({}), {} {}, {} {}, {} {} {}",
                if k.carried_over {
                    ui.t(
                        "確認者の署名（移行前の確認、情報管理責任者が移行時に署名）:",
                        "Confirmed (before the upgrade; carried over by the officer):",
                    )
                } else {
                    ui.t(
                        "確認者の署名も正しい:",
                        "The confirmer's signature holds too:",
                    )
                },
                k.name,
                k.account,
                ui.t("鍵の指紋", "key fingerprint"),
                k.key_fingerprint,
                ui.t("証明書の発行者", "certified by"),
                k.certified_by,
                ui.t("計画", "plan"),
                k.plan,
                k.audit_root
            ));
        }
        line
    })
}

/// `plan.html` → `plan.json`; `plan` → `plan.json`.
fn twin_path(out: &Path) -> PathBuf {
    if out.extension().is_some_and(|e| e == "json") {
        let mut p = out.as_os_str().to_owned();
        p.push(".twin.json");
        PathBuf::from(p)
    } else {
        out.with_extension("json")
    }
}

/// `kinko return`: the package of the approved plan's documents.
pub fn return_package(ui: &Ui, g: &Global, out: &Path, recipient: Option<&Path>) -> Out {
    use kinko_core::package::Protect;
    let mut s = session(g)?;
    let code = crate::auth::recovery_code_from_env();
    let receipt = match recipient {
        Some(file) => {
            let bytes = read_input(file)?;
            let public = kinko_core::package::read_public(&bytes)?;
            s.return_package(Protect::Recipient(&public), code.as_deref(), out)?
        }
        None => {
            let pass = crate::auth::passphrase(true)?;
            s.return_package(Protect::Passphrase(pass.as_bytes()), code.as_deref(), out)?
        }
    };
    ui.show(&receipt, || {
        format!(
            "{} {} ({} {}, SHA-256 {})",
            ui.t("返却パッケージを書き出しました:", "Return package written:"),
            out.display(),
            receipt.files,
            ui.t("件", "files"),
            receipt.package_sha256
        )
    })
}

/// `kinko unpack`: the bureau's side, with no vault.
pub fn unpack(ui: &Ui, package: &Path, to: &Path, key: Option<&Path>) -> Out {
    use kinko_core::package::Open;
    let unpacked = match key {
        Some(file) => {
            let bytes = read_input(file)?;
            let secret = kinko_core::package::read_secret(&bytes)?;
            kinko_core::package::unpack(package, to, Open::Key(&secret))?
        }
        None => {
            let pass = crate::auth::passphrase(false)?;
            kinko_core::package::unpack(package, to, Open::Passphrase(pass.as_bytes()))?
        }
    };
    ui.show_table(
        &unpacked.files,
        &[
            ui.t("文書", "Document"),
            ui.t("ファイル", "File"),
            ui.t("大きさ", "Size"),
            "SHA-256",
        ],
        |f| {
            vec![
                f.document.to_string(),
                f.name.clone(),
                f.size.to_string(),
                f.sha256.clone(),
            ]
        },
    )
}

/// `kinko recipient new`: NAME.key and NAME.pub.
pub fn recipient_new(ui: &Ui, out: &Path) -> Out {
    let r = kinko_core::package::new_recipient();
    let with = |ext: &str| {
        let mut p = out.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let (key, public) = (with(".key"), with(".pub"));
    write_new_files(&[
        (key.clone(), r.key.as_bytes()),
        (public.clone(), r.public.as_bytes()),
    ])?;
    ui.show(
        &json!({"key": key, "public": public, "fingerprint": r.fingerprint}),
        || {
            format!(
                "{}\n{}: {}\n{}: {}\n{}: {}",
                ui.t("受取人の鍵を作りました。", "Recipient keys made."),
                ui.t("秘密鍵（保管）", "Private key (keep)"),
                key.display(),
                ui.t("公開鍵（協議会へ）", "Public key (to the council)"),
                public.display(),
                ui.t("指紋", "Fingerprint"),
                r.fingerprint
            )
        },
    )
}
