//! P1: the permission matrix, cell by cell, through real sessions.

use super::*;

/// P1: the permission matrix, cell by cell. The expected table is written
/// here independently of `permission::allows`; every cell is then tried
/// through a real session of someone holding that role: a "no" must be
/// refused as not permitted, a "yes" must not be.
#[test]
fn every_cell_of_the_permission_matrix() {
    use kinko_core::permission::{allows, Action, Role};
    use kinko_core::roster::{Roster, RosterFields};
    // O officer, M manager, H handler, S sysadmin, A auditor.
    let expected: &[(Action, &str)] = &[
        (Action::AccountAdd, "OS"),
        (Action::AccountList, "OS"),
        (Action::AccountManage, "OS"),
        (Action::AccountRecover, "O"),
        (Action::AccountCertify, "O"),
        (Action::ChangeOwnPassword, "OMHSA"),
        (Action::TotpEnroll, "OMHSA"),
        (Action::TotpConfirm, "OMHSA"),
        (Action::TokenEnrol, "OMHSA"),
        (Action::PolicyShow, "OMHSA"),
        (Action::PolicySet, "O"),
        (Action::RosterRequest, "OM"),
        (Action::RosterApprove, "O"),
        (Action::RosterRead, "OM"),
        (Action::RosterExport, "OM"),
        (Action::SessionStart, "OMHSA"),
        (Action::SessionEnd, "OMHSA"),
        (Action::Status, "OMHSA"),
        (Action::VaultVerify, "OSA"),
        (Action::DocumentImport, "OM"),
        (Action::DocumentList, "OMH"),
        (Action::DocumentShow, "OMH"),
        (Action::DocumentView, "OMH"),
        (Action::GrantList, "OM"),
        (Action::DocumentOpen, "OMH"),
        (Action::ExportApprove, "O"),
        (Action::Grant, "OM"),
        (Action::Revoke, "OM"),
        (Action::AuditRead, "OA"),
        (Action::AuditCheckpoint, "OA"),
        (Action::AuditVerify, "OA"),
        (Action::AuditArchive, "O"),
        (Action::AuditReport, "OA"),
        (Action::AlertRead, "OMA"),
        (Action::AlertAck, "OM"),
        (Action::DisposalPlan, "O"),
        (Action::DisposalRead, "OMA"),
        (Action::DisposalApprove, "O"),
        (Action::DisposalExecute, "OM"),
        (Action::DisposalConfirm, "OM"),
        (Action::DisposalReport, "O"),
        (Action::ReturnPackage, "O"),
        (Action::IncidentRecord, "OM"),
        (Action::IncidentRead, "OMA"),
        (Action::StatusReport, "O"),
        (Action::Backup, "OS"),
        (Action::Rekey, "O"),
        (Action::Restore, "OS"),
        (Action::DeviceApprove, "OS"),
    ];
    assert_eq!(expected.len(), Action::ALL.len(), "every action has a row");
    let letter = |r: Role| match r {
        Role::Officer => 'O',
        Role::Manager => 'M',
        Role::Handler => 'H',
        Role::Sysadmin => 'S',
        Role::Auditor => 'A',
    };
    for (action, roles) in expected {
        for role in Role::ALL {
            assert_eq!(
                allows(role, *action),
                roles.contains(letter(role)),
                "{role:?} × {action:?}"
            );
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let created = Vault::init(
        &dir,
        InitOptions {
            officer_id: "boss".into(),
            officer_name: "Officer".into(),
            council: String::new(),
            password: Password::new(OFFICER_PW),
            kdf: KdfProfile::Argon2id,
            terminal: "test".into(),
            policy: vec![("totp.required".into(), "false".into())],
        },
    )
    .unwrap();
    let f = Fixture {
        dir: dir.clone(),
        work: tmp.path().to_path_buf(),
        recovery_code: created.recovery_code.to_string(),
        _tmp: tmp,
    };
    let mut people = vec![(Role::Officer, "boss".to_string(), OFFICER_PW.to_string())];
    for (role, id, roles) in [
        (Role::Manager, "mika", "manager"),
        (Role::Handler, "hana", "handler"),
        (Role::Sysadmin, "sam", "sysadmin"),
        (Role::Auditor, "aki", "auditor"),
    ] {
        let new = f.officer().add_account(id, id, roles).unwrap();
        let pw = f.activate(id, &new.initial_password);
        if role.reads_documents() {
            f.roster(id);
        }
        people.push((role, id.to_string(), pw));
    }
    let src = f.file("m.txt", b"matrix");
    let doc = f
        .officer()
        .import(&f.request(&src), &mut no_progress())
        .unwrap();
    f.officer().grant(doc, "mika").unwrap();
    // Disposed of in the disposal cells, so the rest keep their document.
    let spare = f
        .officer()
        .import(
            &f.request(&f.file("spare.txt", b"spare")),
            &mut no_progress(),
        )
        .unwrap();
    f.officer().grant(doc, "hana").unwrap();
    let recovery = created.recovery_code.to_string();
    let worker = RosterFields {
        name: "W".into(),
        department: "D".into(),
        position: "P".into(),
        education: Some("e".into()),
        work_history: Some("w".into()),
        nationality: Some("n".into()),
        native_language: Some("l".into()),
        ..Default::default()
    };

    let raw = f.raw_db("boss", OFFICER_PW);
    for (role, id, pw) in &people {
        for (action, roles) in expected {
            let mut s = f.sign_in(id, pw);
            let public = Vault::open(&dir).unwrap().public_status();
            let tag = format!("{}{}", letter(*role), *action as u8);
            let result: Result<(), Error> = match action {
                Action::AccountAdd => s
                    .add_account(&format!("new-{}", tag.to_lowercase()), "N", "handler")
                    .map(drop),
                Action::AccountList => s.list_accounts().map(drop),
                Action::AccountManage => s.set_account_hours("hana", None),
                Action::AccountRecover => s.recover_account("hana", &recovery).map(drop),
                Action::AccountCertify => s.certify_account("hana", None).map(drop),
                Action::ChangeOwnPassword => s.change_password(&Password::new("x")),
                Action::TotpEnroll => s.totp_enroll().map(drop),
                Action::TotpConfirm => s.totp_confirm("000000"),
                Action::TokenEnrol => s
                    .token_enrol(
                        &Password::new("x"),
                        &kinko_core::possession::TokenAccess {
                            module: "/nonexistent/module.so".into(),
                            pin: zeroize::Zeroizing::new("0000".into()),
                            token_label: None,
                        },
                    )
                    .map(drop),
                Action::PolicyShow => s.policy_show().map(drop),
                Action::PolicySet => s.policy_set("session.idle_minutes", "15"),
                Action::RosterRequest => s
                    .roster_request_add(
                        Roster::Worker,
                        &format!("w-{}", tag.to_lowercase()),
                        &worker,
                    )
                    .map(drop),
                Action::RosterApprove => s.roster_approve(999_999, "r", "2026-01-01"),
                Action::RosterRead => s.roster_list().map(drop),
                Action::RosterExport => s.roster_export().map(drop),
                Action::SessionStart => s.start_token().map(drop),
                Action::SessionEnd => s.end(),
                Action::Status => s.status(public).map(drop),
                Action::VaultVerify => s.verify(false).map(drop),
                Action::DocumentImport => s.import(&f.request(&src), &mut no_progress()).map(drop),
                Action::DocumentList => s.list_documents().map(drop),
                Action::DocumentShow => s.show_document(doc).map(drop),
                Action::DocumentView => s.view_document(doc).map(drop),
                Action::DocumentOpen => s
                    .export(doc, kinko_core::ExportTarget::Writer(&mut std::io::sink()))
                    .map(drop),
                Action::ExportApprove => s.approve_export(doc, "ref", None).map(drop),
                Action::Grant => s.grant(doc, "hana"),
                Action::Revoke => s.revoke(doc, "nobody"),
                Action::GrantList => s.grants_by_person().map(drop),
                Action::AuditRead => s.audit_log(&Default::default()).map(drop),
                Action::AuditCheckpoint => s.audit_checkpoint().map(drop),
                Action::AuditVerify => s.audit_verify(None).map(drop),
                Action::AuditArchive => s
                    .audit_archive(
                        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                        &f.work.join(format!("archive-{tag}.json")),
                    )
                    .map(drop),
                Action::AuditReport => {
                    let today = chrono::Utc::now().date_naive();
                    s.audit_report(today, today).map(drop)
                }
                Action::AlertRead => s.alerts(true).map(drop),
                Action::AlertAck => s.alert_ack(999_999, "checked").map(drop),
                Action::DisposalPlan => s
                    .disposal_plan(&kinko_core::disposal::PlanRequest {
                        executor: "mika",
                        confirmer: "boss",
                        items: Some(&[spare]),
                        planned_date: Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()),
                        returned: false,
                    })
                    .map(drop),
                Action::DisposalRead => s.disposal_status().map(drop),
                Action::DisposalApprove => {
                    // The plan's SHA-256, read as the officer (any role
                    // may read the plan's state); refused roles are
                    // refused before it is compared.
                    let sha = s.disposal_status().map(|p| p.sha256).unwrap_or_default();
                    s.disposal_approve(
                        "ref",
                        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                        &sha,
                    )
                    .map(drop)
                }
                Action::DisposalExecute => s.disposal_execute().map(drop),
                Action::DisposalConfirm => s.disposal_confirm(None).map(drop),
                Action::DisposalReport => s.disposal_report().map(drop),
                Action::IncidentRecord => s
                    .incident_add(&kinko_core::incident::IncidentFields {
                        detected_at: Some("2026-11-20 10:00".into()),
                        summary: Some("matrix".into()),
                        ..Default::default()
                    })
                    .map(drop),
                Action::IncidentRead => s.incidents(true).map(drop),
                Action::StatusReport => s.status_report("2026-11").map(drop),
                Action::ReturnPackage => s
                    .return_package(
                        kinko_core::package::Protect::Passphrase(b"matrix"),
                        None,
                        &f.work.join(format!("return-{tag}.kinko")),
                    )
                    .map(drop),
                Action::Backup => s.backup(&f.work.join(format!("b-{tag}.bak"))).map(drop),
                // A wrong code: the role's refusal comes first.
                Action::Rekey => s.rekey(None, "AAAAA", &mut no_progress()).map(drop),
                // Restore happens outside a session (into a new vault):
                // `restore_drill…` and `e2e/backup.rs` try its refusals.
                Action::Restore => continue,
                // A vault folder has no terminals: an allowed role meets
                // "needs an office server", a refused one its role.
                Action::DeviceApprove => s.approve_device("ABCD-EFGH").map(drop),
            };
            let allowed = roles.contains(letter(*role));
            // The role's refusal; other refusals (the wrong state, not the
            // named person) are for the action's own tests.
            let denied = matches!(&result, Err(Error::Denied(m)) if m.starts_with("your role"));
            assert_eq!(denied, !allowed, "{role:?} × {action:?}: {result:?}");
            // A1: whatever happened, the person's last event is this action.
            let (event, outcome): (String, String) = raw
                .query_row(
                    "SELECT event, outcome FROM audit_events WHERE actor = ?1 ORDER BY seq DESC LIMIT 1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(event, action.event(), "{role:?} × {action:?} left no event");
            if denied {
                assert_eq!(outcome, "denied", "{role:?} × {action:?}");
            }
        }
    }
}
