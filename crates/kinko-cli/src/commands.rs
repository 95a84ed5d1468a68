//! One function per command: resolve who and where, call the core, print.

use std::io::IsTerminal;

use kinko_core::account::Lifecycle;
use kinko_core::crypto::kdf::KdfProfile;
use kinko_core::roster::{Roster, RosterFields};
use kinko_core::vault::{local_terminal, InitOptions};
use kinko_core::{DocumentInfo, ExportTarget, ImportRequest, NewAccount, Vault};
use serde_json::json;

use crate::args::{
    AccountCmd, Cli, Command, Global, ImportArgs, PolicyCmd, RosterCmd, RosterRequestCmd, TokenCmd,
    TotpCmd,
};
use crate::auth;
use crate::failure::Failure;
use crate::text::Lang;
use crate::ui::{open_vault, session, write_new_files, Out, Ui};

pub fn run(cli: Cli, lang: Lang) -> Out {
    let ui = Ui {
        json: cli.global.json,
        lang,
    };
    let g = &cli.global;
    match cli.command {
        Command::Init {
            officer,
            name,
            council,
            kdf,
            policy,
        } => init(&ui, g, officer, name, council, &kdf, &policy),
        Command::Policy(PolicyCmd::Show) => {
            let entries = session(g)?.policy_show()?;
            ui.show_table(
                &entries,
                &[
                    ui.t("設定", "Setting"),
                    ui.t("値", "Value"),
                    ui.t("既定値", "Default"),
                    ui.t("意味", "Meaning"),
                ],
                |e| {
                    vec![
                        e.key.clone(),
                        e.value.clone(),
                        e.default.clone(),
                        e.meaning.clone(),
                    ]
                },
            )
        }
        Command::Policy(PolicyCmd::Set { key, value }) => {
            session(g)?.policy_set(&key, &value)?;
            ui.show(&json!({"key": key, "value": value}), || {
                format!(
                    "{} {key} = {value}",
                    ui.t("ポリシーを変更しました:", "Policy changed:")
                )
            })
        }
        Command::Totp(TotpCmd::Enroll) => {
            let e = session(g)?.totp_enroll()?;
            ui.show(&e, || {
                format!(
                    "{}\n\n    {}\n\n{}: {}\n{}",
                    ui.t("認証アプリにこのURIを登録してください（デスクトップアプリではQRコードで表示されます）:", "Add this URI to an authenticator app (the desktop app shows it as a QR code):"),
                    e.uri,
                    ui.t("秘密鍵", "Secret"),
                    e.secret_base32,
                    ui.t("次に kinko totp confirm CODE で有効にします。", "Then turn it on with: kinko totp confirm CODE")
                )
            })
        }
        Command::Totp(TotpCmd::Confirm { code }) => {
            session(g)?.totp_confirm(&code)?;
            ui.show(&json!({"totp": "on"}), || {
                ui.t(
                    "ワンタイムコードを有効にしました。",
                    "One-time codes are on.",
                )
                .to_string()
            })
        }
        Command::Token(TokenCmd::Enrol) => {
            let access = auth::token_access(g)?.ok_or_else(|| {
                anyhow::anyhow!("give the token's PKCS#11 module: --pkcs11-module PATH (or KINKO_PKCS11_MODULE)")
            })?;
            let mut s = session(g)?;
            let who = s.actor().id.clone();
            let pw = auth::password(g, &format!("Password for {who}: "), false)?;
            let label = s.token_enrol(&pw, &access)?;
            ui.show(&json!({"token": label}), || {
                format!(
                    "{} '{label}'",
                    ui.t(
                        "鍵スロットをトークンに結び付けました。以後のサインインにはパスワードとこのトークンが要ります:",
                        "Your keyslot is bound to the token; from now on you sign in with your password and"
                    )
                )
            })
        }
        Command::Roster(cmd) => roster(&ui, g, cmd),
        Command::Account(AccountCmd::Suspend { id }) => lifecycle(&ui, g, &id, Lifecycle::Suspend),
        Command::Account(AccountCmd::Resume { id }) => lifecycle(&ui, g, &id, Lifecycle::Resume),
        Command::Account(AccountCmd::Disable { id }) => lifecycle(&ui, g, &id, Lifecycle::Disable),
        Command::Account(AccountCmd::Unlock { id }) => lifecycle(&ui, g, &id, Lifecycle::Unlock),
        Command::Account(AccountCmd::Hours { id, span }) => {
            let hours = (span != "role").then_some(span.as_str());
            session(g)?.set_account_hours(&id, hours)?;
            ui.show(&json!({"id": id, "hours": span}), || {
                format!(
                    "{} {id}: {span}",
                    ui.t("勤務時間を設定しました:", "Hours set:")
                )
            })
        }
        Command::Account(AccountCmd::Reset { id }) => {
            let created = session(g)?.reset_account(&id)?;
            show_new_account(
                &ui,
                &created,
                ui.t("アカウントをリセットしました", "Account reset"),
                ui.t(
                    "文書は情報管理責任者が kinko account recover で戻します。",
                    "The officer gives back its documents with: kinko account recover ID",
                ),
            )
        }
        Command::Account(AccountCmd::Recover { id }) => {
            let mut s = session(g)?;
            let code = auth::recovery_code()?;
            let n = s.recover_account(&id, code.as_str())?;
            ui.show(&json!({"id": id, "documents": n}), || {
                format!(
                    "{} {id}: {n}",
                    ui.t("文書の鍵を戻しました:", "Documents given back:")
                )
            })
        }
        Command::Account(AccountCmd::Certify { id, fingerprint }) => {
            certify(&ui, g, &id, fingerprint)
        }
        Command::Status => status(&ui, g),
        Command::Verify { deep } => verify(&ui, g, deep),
        Command::Login => login(&ui, g),
        Command::Logout => logout(&ui, g),
        Command::Passwd => passwd(&ui, g),
        Command::Account(AccountCmd::Add { id, name, role }) => {
            account_add(&ui, g, &id, &name, &role)
        }
        Command::Account(AccountCmd::List) => account_list(&ui, g),
        Command::Import(a) => import(&ui, g, a),
        Command::List => list(&ui, g),
        Command::Show { doc } => show(&ui, g, doc),
        Command::Open { doc, out } => open(&ui, g, doc, &out),
        Command::ApproveExport {
            doc,
            reference,
            for_account,
        } => approve_export(&ui, g, doc, &reference, for_account.as_deref()),
        Command::Grant { doc, to } => {
            session(g)?.grant(doc, &to)?;
            ui.show(&json!({"document": doc, "granted_to": to}), || {
                format!("{} {doc} → {to}", ui.t("付与しました:", "Granted:"))
            })
        }
        Command::Revoke { doc, from } => {
            session(g)?.revoke(doc, &from)?;
            ui.show(&json!({"document": doc, "revoked_from": from}), || {
                format!("{} {doc} ← {from}", ui.t("取り消しました:", "Revoked:"))
            })
        }
        Command::Audit(cmd) => crate::audit::run(&ui, g, cmd),
        Command::Disposal(cmd) => crate::disposal::run(&ui, g, cmd),
        Command::VerifyReport {
            file,
            key,
            confirmer_key,
        } => crate::disposal::verify_report(&ui, &file, key.as_deref(), confirmer_key.as_deref()),
        Command::Return {
            out,
            recipient,
            passphrase: _,
        } => crate::disposal::return_package(&ui, g, &out, recipient.as_deref()),
        Command::Unpack { package, to, key } => {
            crate::disposal::unpack(&ui, &package, &to, key.as_deref())
        }
        Command::Recipient(crate::args::RecipientCmd::New { out }) => {
            crate::disposal::recipient_new(&ui, &out)
        }
        Command::Incident(cmd) => crate::incident::run(&ui, g, cmd),
        Command::Report(crate::args::ReportCmd::Status { month, out }) => {
            crate::incident::status_report(&ui, g, &month, &out)
        }
        Command::Device(cmd) => crate::device::run(&ui, g, cmd),
        Command::Backup { out } => crate::backup::backup(&ui, g, &out),
        Command::Backups => crate::backup::list(&ui, g),
        Command::About { sbom } => crate::about::about(&ui, sbom),
        Command::Rekey { suite } => crate::keys::rekey(&ui, g, suite),
        Command::Upgrade => crate::keys::upgrade(&ui, g),
        Command::Restore { file, to } => crate::backup::restore(&ui, g, &file, &to),
        Command::Alerts {
            all,
            ack,
            note,
            follow: false,
        } => crate::audit::alerts(&ui, g, all, ack, note.as_deref()),
        Command::Alerts { follow: true, .. } => crate::audit::follow_alerts(&ui, g),
    }
}

fn roster(ui: &Ui, g: &Global, cmd: RosterCmd) -> Out {
    let mut s = session(g)?;
    match cmd {
        RosterCmd::Request(RosterRequestCmd::Add(a)) => {
            let roster: Roster = a.roster.parse()?;
            let fields = RosterFields {
                name: a.name,
                department: a.department,
                position: a.position,
                address: a.address,
                birth_date: a.birth_date,
                duty: a.duty,
                organisation: a.org,
                education: a.education,
                work_history: a.work_history,
                experience: a.experience,
                training: a.training,
                expertise: a.expertise,
                native_language: a.native_language,
                foreign_languages: a.foreign_languages,
                nationality: a.nationality,
            };
            let id = s.roster_request_add(roster, &a.id, &fields)?;
            ui.show(&json!({"request": id}), || id.to_string())
        }
        RosterCmd::Request(RosterRequestCmd::Remove { id, roster }) => {
            let req = s.roster_request_remove(roster.parse()?, &id)?;
            ui.show(&json!({"request": req}), || req.to_string())
        }
        RosterCmd::Approve {
            request,
            reference,
            date,
        } => {
            s.roster_approve(request, &reference, &date)?;
            ui.show(&json!({"request": request, "approved": true}), || {
                format!(
                    "{} {request} ({reference}, {date})",
                    ui.t("承認を記録しました:", "Approval recorded:")
                )
            })
        }
        RosterCmd::List { pending } => {
            let (entries, requests) = s.roster_list()?;
            if pending {
                ui.show_table(
                    &requests,
                    &[
                        "#",
                        ui.t("名簿", "Roster"),
                        ui.t("変更", "Change"),
                        "ID",
                        ui.t("申請者", "Requested by"),
                        ui.t("申請日時", "Requested at"),
                    ],
                    |r| {
                        vec![
                            r.id.to_string(),
                            r.roster.as_str().into(),
                            r.change.clone(),
                            r.person.clone(),
                            r.requested_by.clone(),
                            r.requested_at.clone(),
                        ]
                    },
                )
            } else {
                ui.show_table(
                    &entries,
                    &[
                        ui.t("名簿", "Roster"),
                        "ID",
                        ui.t("氏名", "Name"),
                        ui.t("所属", "Department"),
                        ui.t("役職", "Position"),
                        ui.t("承認番号", "Approval"),
                        ui.t("承認日", "Approved"),
                    ],
                    |e| {
                        vec![
                            e.roster.title_ja().into(),
                            e.person.clone(),
                            e.fields.name.clone(),
                            e.fields.department.clone(),
                            e.fields.position.clone(),
                            e.approved_ref.clone(),
                            e.approved_date.clone(),
                        ]
                    },
                )
            }
        }
        RosterCmd::Export { out } => {
            let export = s.roster_export()?;
            let stem = out.with_extension("");
            let csv_path = |suffix: &str| {
                let mut p = stem.clone().into_os_string();
                p.push(suffix);
                std::path::PathBuf::from(p)
            };
            let files = [
                (out.clone(), export.html.as_str()),
                (csv_path("-handlers.csv"), export.handlers_csv.as_str()),
                (csv_path("-workers.csv"), export.workers_csv.as_str()),
            ];
            let files: Vec<(std::path::PathBuf, &[u8])> = files
                .iter()
                .map(|(p, t)| (p.clone(), t.as_bytes()))
                .collect();
            write_new_files(&files)?;
            let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
            ui.show(&json!({"files": names}), || {
                format!(
                    "{}\n{}",
                    ui.t("書き出しました:", "Written:"),
                    names.join("\n")
                )
            })
        }
    }
}

fn lifecycle(ui: &Ui, g: &Global, id: &str, what: Lifecycle) -> Out {
    session(g)?.account_lifecycle(id, what)?;
    let (ja, en) = match what {
        Lifecycle::Suspend => ("停止しました", "Suspended"),
        Lifecycle::Resume => ("再開しました", "Resumed"),
        Lifecycle::Disable => (
            "無効にしました（IDは再発行されません）",
            "Disabled (the ID is never issued again)",
        ),
        Lifecycle::Unlock => ("ロックを解除しました", "Unlocked"),
    };
    ui.show(&json!({"id": id, "done": en.to_lowercase()}), || {
        format!("{}: {id}", ui.t(ja, en))
    })
}

fn init(
    ui: &Ui,
    g: &Global,
    officer: String,
    name: String,
    council: String,
    kdf: &str,
    policy: &[String],
) -> Out {
    let dir = auth::vault_dir(g)?;
    let kdf: KdfProfile = kdf.parse()?;
    let policy = policy
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| anyhow::anyhow!("--policy wants KEY=VALUE, not '{kv}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let password = auth::password(g, &format!("New password for {officer}: "), true)?;
    let opts = InitOptions {
        officer_id: officer.clone(),
        officer_name: name,
        council,
        password,
        kdf,
        terminal: local_terminal(),
        policy,
    };
    let (dir, created) = match &g.server {
        None => (dir.clone(), Vault::init(&dir, opts)?),
        Some(url) => {
            let device = crate::remote::enrolled_with(url)?;
            let created = kinko_remote::terminal::create_vault(&device, opts)?;
            (kinko_remote::terminal::replica_dir(&device), created)
        }
    };
    ui.show(
        &json!({"vault": dir.display().to_string(), "vault_id": created.vault_id, "officer": officer,
                "recovery_code": created.recovery_code.as_str()}),
        || {
            format!(
                "{}: {}\n{}: {}\n\n{}\n\n    {}\n",
                ui.t("金庫を作成しました", "Vault created"),
                dir.display(),
                ui.t("情報管理責任者", "Information Management Officer"),
                officer,
                ui.t(
                    "復旧コード（この一度だけ表示します。紙に書き、金庫とは別の場所に保管してください）:",
                    "Recovery code (shown this once: write it down and keep it apart from the vault):"
                ),
                created.recovery_code.as_str()
            )
        },
    )
}

fn status(ui: &Ui, g: &Global) -> Out {
    let vault = open_vault(g)?;
    let public = vault.public_status();
    let signed_in = std::env::var("KINKO_SESSION").is_ok_and(|s| !s.is_empty()) || g.user.is_some();
    if !signed_in {
        return ui.show(&public, || {
            format!(
                "{}: {}\n{}: {}\n{}: {}\n{}",
                ui.t("場所", "Path"),
                public.path,
                ui.t("金庫ID", "Vault ID"),
                public.vault_id,
                ui.t("鍵スロット", "Keyslots"),
                public.accounts_with_keyslots,
                ui.t(
                    "（件数はサインインすると表示されます）",
                    "(sign in to see counts)"
                )
            )
        });
    }
    let s = auth::session(&vault, g)?.status(public)?;
    ui.show_record(&s, || {
        vec![
            (ui.t("場所", "Path"), s.public.path.clone()),
            (ui.t("金庫ID", "Vault ID"), s.public.vault_id.clone()),
            (ui.t("協議会", "Council"), s.council.clone()),
            (ui.t("状態", "State"), s.state.clone()),
            (ui.t("作成日時", "Created"), s.created_at.clone()),
            (ui.t("アカウント", "Accounts"), s.accounts.to_string()),
            (ui.t("文書", "Documents"), s.documents.to_string()),
            (
                ui.t("監査イベント", "Audit events"),
                s.audit_events.to_string(),
            ),
            (
                ui.t("最終イベント", "Last event"),
                s.last_event_at.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                ui.t("最終チェックポイント", "Last checkpoint"),
                s.last_checkpoint.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                ui.t(
                    "署名鍵の指紋（報告書）",
                    "Signing key fingerprint (reports)",
                ),
                s.report_key_fingerprint.clone(),
            ),
            (
                ui.t("あなたの鍵の指紋", "Your key fingerprint"),
                s.key_fingerprint.clone(),
            ),
            (
                ui.t("認証", "Certified"),
                if s.certified {
                    ui.t("済", "yes")
                } else {
                    ui.t("責任者の認証待ち", "awaiting the officer")
                }
                .to_string(),
            ),
        ]
    })
}

fn verify(ui: &Ui, g: &Global, deep: bool) -> Out {
    let report = session(g)?.verify(deep)?;
    ui.show(&report, || {
        let mut s = format!(
            "{}: {}  {}: {}  {}: {}\n",
            ui.t("文書", "Documents"),
            report.documents_checked,
            ui.t("復号確認", "Decrypted"),
            report.documents_decrypted,
            ui.t("監査イベント", "Audit events"),
            report.audit_events_checked
        );
        for d in &report.damaged {
            s.push_str(&format!(
                "{}: {}: {}\n",
                ui.t("破損", "DAMAGED"),
                d.item,
                d.problem
            ));
        }
        if !report.leftovers.is_empty() {
            s.push_str(&format!(
                "{}: {}\n",
                ui.t(
                    "中断された作業の残り（誰の鍵でも開けません）",
                    "Leftovers of interrupted work (no stored key opens them)"
                ),
                report.leftovers.len()
            ));
        }
        if report.is_intact() {
            s.push_str(ui.t("異常はありません。", "Intact."));
        }
        s
    })?;
    if report.is_intact() {
        Ok(())
    } else {
        for d in &report.damaged {
            eprintln!("kinko: tampering detected: {}: {}", d.item, d.problem);
        }
        Err(Failure::Exit(5))
    }
}

fn login(ui: &Ui, g: &Global) -> Out {
    let vault = open_vault(g)?;
    let user = g
        .user
        .clone()
        .ok_or_else(|| anyhow::anyhow!("give --user ID (or set KINKO_USER) to sign in"))?;
    let pw = auth::password(g, &format!("Password for {user}: "), false)?;
    let mut s =
        auth::signed_in(vault.sign_in(&user, &pw, auth::totp().as_deref(), &local_terminal())?)?;
    let token = s.start_token()?;
    ui.show(&json!({"session": token.as_str(), "user": user}), || {
        format!("export KINKO_SESSION={}", token.as_str())
    })
}

fn logout(ui: &Ui, g: &Global) -> Out {
    let vault = open_vault(g)?;
    let token = std::env::var("KINKO_SESSION").unwrap_or_default();
    if token.is_empty() {
        return Err(kinko_core::Error::NotSignedIn("KINKO_SESSION is not set".into()).into());
    }
    vault.resume(&token, &local_terminal())?.end()?;
    ui.show(&json!({"signed_out": true}), || {
        ui.t("サインアウトしました。", "Signed out.").to_string()
    })
}

fn passwd(ui: &Ui, g: &Global) -> Out {
    let mut s = session(g)?;
    let new = auth::new_password(g, "New password: ")?;
    s.change_password(&new)?;
    let awaiting = s.actor().pending == Some(kinko_core::Pending::Certification);
    let fingerprint = s.key_fingerprint()?;
    ui.show(
        &json!({"changed": true, "awaiting_certification": awaiting, "key_fingerprint": fingerprint}),
        || {
            let mut text = ui
                .t(
                    "パスワードを変更しました。他のシステムと同じパスワードは使わないでください。",
                    "Password changed. Do not reuse a password you use anywhere else.",
                )
                .to_string();
            if awaiting {
                text.push_str(&format!(
                    "\n{} {fingerprint}",
                    ui.t(
                        "情報管理責任者の認証を待っています。この鍵の指紋を責任者に見せてください:",
                        "Your keys await the officer's certification. Show the officer this key fingerprint:",
                    )
                ));
            }
            text
        },
    )
}

/// The officer vouches for an account, after comparing its key
/// fingerprint with the one the person's own screen shows.
fn certify(ui: &Ui, g: &Global, id: &str, fingerprint: Option<String>) -> Out {
    let mut s = session(g)?;
    let fingerprint = match fingerprint {
        Some(f) => Some(f),
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => Some(auth::line(ui.t(
            "本人の画面に表示された鍵の指紋: ",
            "Key fingerprint shown on the person's screen: ",
        ))?),
        None => None,
    };
    let done = s.certify_account(id, fingerprint.as_deref())?;
    ui.show(&done, || {
        let mut text = format!(
            "{} {} ({}, {}) #{}",
            ui.t("認証しました:", "Certified:"),
            done.account,
            done.name,
            done.roles,
            done.serial
        );
        if fingerprint.is_none() {
            text.push_str(&format!(
                "\n{} {}",
                ui.t(
                    "指紋は照合していません。本人の画面の指紋と同じか確認してください:",
                    "The fingerprint was not compared; check it is the one on the person's screen:",
                ),
                done.fingerprint
            ));
        }
        text
    })
}

fn account_add(ui: &Ui, g: &Global, id: &str, name: &str, role: &str) -> Out {
    let created = session(g)?.add_account(id, name, role)?;
    show_new_account(
        ui,
        &created,
        ui.t("アカウントを追加しました", "Account added"),
        ui.t(
            "本人に安全な方法で渡してください。",
            "Hand it to the person by a safe channel.",
        ),
    )
}

/// An account's initial password, shown this once.
fn show_new_account(ui: &Ui, created: &NewAccount, headline: &str, next: &str) -> Out {
    ui.show(
        &json!({"id": created.id, "initial_password": created.initial_password.as_str()}),
        || {
            format!(
                "{headline}: {}\n{}: {}\n{next}",
                created.id,
                ui.t(
                    "初期パスワード（この一度だけ表示します）",
                    "Initial password (shown this once)"
                ),
                created.initial_password.as_str(),
            )
        },
    )
}

fn account_list(ui: &Ui, g: &Global) -> Out {
    let accounts = session(g)?.list_accounts()?;
    ui.show_table(
        &accounts,
        &[
            "ID",
            ui.t("氏名", "Name"),
            ui.t("役割", "Roles"),
            ui.t("状態", "Status"),
            ui.t("認証", "Certification"),
            ui.t("作成日時", "Created"),
        ],
        |a| {
            let certification = match a.certification {
                kinko_core::Certification::Certified => ui.t("済", "certified").to_string(),
                kinko_core::Certification::AwaitingPerson => ui
                    .t("本人の初回サインイン待ち", "awaiting first sign-in")
                    .to_string(),
                kinko_core::Certification::AwaitingOfficer => format!(
                    "{} {}",
                    ui.t("責任者の認証待ち", "awaiting the officer"),
                    a.fingerprint.as_deref().unwrap_or_default()
                ),
            };
            vec![
                a.id.clone(),
                a.name.clone(),
                a.roles.clone(),
                a.status.clone(),
                certification,
                a.created_at.clone(),
            ]
        },
    )
}

fn import(ui: &Ui, g: &Global, a: ImportArgs) -> Out {
    let mut s = session(g)?;
    let req = ImportRequest {
        source: a.file,
        origin: a.origin,
        via: a.via,
        purpose: a.purpose,
        title: a.title,
        personal_data: a.personal_data,
    };
    let show_progress = !ui.json && std::io::stderr().is_terminal();
    let mut last = 0u64;
    let mut progress = |done: u64, total: u64| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if show_progress && pct != last {
            last = pct;
            eprint!("\r{pct:3}%");
        }
    };
    let id = s.import(&req, &mut progress)?;
    if show_progress {
        eprintln!();
    }
    ui.show(&json!({"id": id}), || id.to_string())
}

fn list(ui: &Ui, g: &Global) -> Out {
    let docs = session(g)?.list_documents()?;
    let personal = ui.t("個人情報", "personal");
    ui.show_table(
        &docs,
        &[
            "ID",
            ui.t("件名", "Title"),
            ui.t("区分", "Kind"),
            ui.t("サイズ", "Size"),
            ui.t("受領日", "Received"),
            ui.t("受領元", "From"),
        ],
        |d| {
            vec![
                d.id.to_string(),
                d.title.clone(),
                if d.personal_data { personal } else { "-" }.to_string(),
                d.size.to_string(),
                d.received_at
                    .get(..10)
                    .unwrap_or(&d.received_at)
                    .to_string(),
                d.origin.clone(),
            ]
        },
    )
}

fn show(ui: &Ui, g: &Global, doc: i64) -> Out {
    let d: DocumentInfo = session(g)?.show_document(doc)?;
    let personal = if d.personal_data {
        ui.t("あり", "yes")
    } else {
        ui.t("なし", "no")
    };
    ui.show_record(&d, || {
        vec![
            ("ID", d.id.to_string()),
            (ui.t("件名", "Title"), d.title.clone()),
            (ui.t("ファイル名", "File name"), d.file_name.clone()),
            (ui.t("受領者", "Received by"), d.received_by.clone()),
            (ui.t("受領日時", "Received at"), d.received_at.clone()),
            (ui.t("受領元", "From"), d.origin.clone()),
            (ui.t("受領方法", "Via"), d.via.clone()),
            (ui.t("目的", "Purpose"), d.purpose.clone()),
            (ui.t("個人情報", "Personal data"), personal.into()),
            (ui.t("サイズ", "Size"), d.size.to_string()),
            ("SHA-256", d.sha256.clone()),
            (
                ui.t("鍵の保有者", "Key holders"),
                d.holders.clone().unwrap_or_default().join(", "),
            ),
        ]
    })
}

fn open(ui: &Ui, g: &Global, doc: i64, out: &std::path::Path) -> Out {
    let mut s = session(g)?;
    if out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        s.export(doc, ExportTarget::Writer(&mut stdout))?;
        return Ok(());
    }
    let r = s.export(doc, ExportTarget::File(out))?;
    ui.show(&r, || {
        format!(
            "{} {} ({} bytes, SHA-256 {})",
            ui.t("書き出しました:", "Exported:"),
            out.display(),
            r.bytes,
            r.sha256
        )
    })
}

fn approve_export(
    ui: &Ui,
    g: &Global,
    doc: i64,
    reference: &str,
    for_account: Option<&str>,
) -> Out {
    let id = session(g)?.approve_export(doc, reference, for_account)?;
    ui.show(
        &json!({"approval": id, "document": doc, "ref": reference}),
        || {
            format!(
                "{} {doc} ({reference})",
                ui.t("持ち出し承認を記録しました:", "Export approval recorded:")
            )
        },
    )
}
