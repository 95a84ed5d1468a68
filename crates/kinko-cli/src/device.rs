//! `kinko device enroll|status`: this terminal and its office server.
//! Parse, call `kinko-remote`, show.

use std::time::{Duration, Instant};

use kinko_remote::{Device, Enrolment, Outcome, Server};
use serde_json::json;

use crate::args::{DeviceCmd, Global};
use crate::text::printable;
use crate::ui::{Out, Ui};

/// How often a waiting enrolment asks whether it was approved.
const POLL: Duration = Duration::from_secs(2);

pub fn run(ui: &Ui, g: &Global, cmd: DeviceCmd) -> Out {
    let device = Device::default_location()?;
    match cmd {
        DeviceCmd::Enroll {
            ca_fingerprint,
            token,
            name,
            wait,
        } => {
            let server = g.server.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "give the server's address: --server https://HOST:PORT (or KINKO_SERVER)"
                )
            })?;
            let enrolment = Enrolment {
                url: server,
                ca_fingerprint,
                token,
                name: name.unwrap_or_else(host_name),
                account: g.user.clone(),
            };
            let mut outcome = kinko_remote::enrol(&device, &enrolment)?;
            let until = Instant::now() + Duration::from_secs(wait);
            if let Outcome::Waiting { code } = &outcome {
                if !ui.json && wait > 0 {
                    eprintln!("{}", waiting_line(ui, code));
                }
            }
            while matches!(outcome, Outcome::Waiting { .. }) && Instant::now() + POLL <= until {
                std::thread::sleep(POLL);
                outcome = kinko_remote::collect(&device)?;
            }
            show_outcome(ui, &outcome)
        }
        DeviceCmd::Approve { code } => {
            if g.server.is_none() {
                return Err(anyhow::anyhow!(
                    "give the server's address: --server https://HOST:PORT (or KINKO_SERVER)"
                )
                .into());
            }
            let approved = crate::ui::session(g)?.approve_device(&code)?;
            // The name, account and ID are the server's words: shown
            // without control characters.
            ui.show(&json!({"approved": approved}), || {
                printable(&format!(
                    "{} {} ({}{})",
                    ui.t("端末を承認しました:", "Approved:"),
                    approved.id,
                    approved.name,
                    approved
                        .account
                        .as_deref()
                        .map(|a| format!(", {a}"))
                        .unwrap_or_default()
                ))
            })
        }
        DeviceCmd::Status => {
            let record = device.server()?;
            let Some(record) = record else {
                let pending = device.pending()?;
                return ui.show(
                    &json!({"enrolled": false, "waiting": pending.as_ref().map(|p| &p.code)}),
                    || match pending {
                        Some(p) => waiting_line(ui, &p.code),
                        None => ui
                            .t(
                                "この端末は事務所サーバーに登録されていません。",
                                "This terminal is not enrolled with an office server.",
                            )
                            .to_string(),
                    },
                );
            };
            let hello = Server::enrolled(&device)?.hello()?;
            ui.show_record(
                &json!({"enrolled": true, "server": record.url, "ca_fingerprint": record.ca_fingerprint, "terminal": hello.terminal}),
                || {
                    vec![
                        (ui.t("サーバー", "Server"), record.url.clone()),
                        (ui.t("CA指紋", "CA fingerprint"), record.ca_fingerprint.clone()),
                        (ui.t("端末", "Terminal"), hello.terminal.id.clone()),
                        (ui.t("端末名", "Name"), hello.terminal.name.clone()),
                        (ui.t("利用者", "For"), hello.terminal.account.clone().unwrap_or_default()),
                    ]
                },
            )
        }
    }
}

fn waiting_line(ui: &Ui, code: &str) -> String {
    let code = printable(code);
    format!(
        "{} {code}",
        ui.t(
            "システム管理者の承認を待っています。承認コード:",
            "Waiting for the system administrator's approval. Code:"
        )
    )
}

fn show_outcome(ui: &Ui, outcome: &Outcome) -> Out {
    match outcome {
        Outcome::Enrolled { terminal } => {
            ui.show(&json!({"status": "enrolled", "terminal": terminal}), || {
                format!(
                    "{} {}",
                    ui.t("この端末を登録しました:", "This terminal is enrolled:"),
                    printable(terminal)
                )
            })
        }
        Outcome::Waiting { code } => ui.show(&json!({"status": "waiting", "code": code}), || {
            format!(
                "{}\n{}",
                waiting_line(ui, code),
                ui.t(
                    "承認後にもう一度 `kinko device enroll` を実行すると登録が完了します。",
                    "Run `kinko device enroll` again after the approval to finish."
                )
            )
        }),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "terminal".into())
}
