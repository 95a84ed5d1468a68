//! The one door: every function a shell (the `kinko` command, the app, a
//! server) may call on a signed-in [`Session`](crate::session::Session),
//! one file per area, named like the app's `src-tauri/src/commands/` and
//! the command's modules. Each checks its permission [`Action`], does the
//! work over the rule modules (`document`, `grant`, `roster`, `audit` …,
//! which know nothing of sessions) and writes its audit event in the same
//! transaction, through `Session::perform`.
//!
//! [`LIST`] says, for each action, its method, its permission (and so its
//! audit event, [`Action::event`]), the app command and the CLI command
//! that call it. Tests hold it to the code: every permission is listed,
//! every app command named is registered, every CLI command named parses.
//!
//! Areas:
//! - [`start`]: signing in, one's own credentials, the vault's status;
//! - [`documents`]: receipt, listing, viewing, export, grants;
//! - [`people`]: accounts, rosters, the policy;
//! - [`oversight`]: the audit trail, alerts, reports, incidents, checks;
//! - [`contract`]: the end of the contract (plan, approval, erasure,
//!   report, return);
//! - [`keys`]: backups, restore, key rotation.
//!
//! Opening and ending sessions (`Session::start_token`, `end`, `end_idle`)
//! is the session machinery itself, in `session.rs`.

use crate::permission::Action;

pub mod contract;
pub mod documents;
pub mod keys;
pub mod oversight;
pub mod people;
pub mod start;

/// One action as the shells reach it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The method on `Session` (or `Vault`, for sign-in and restore).
    pub method: &'static str,
    /// The permission it checks; its audit event is `action.event()`.
    pub action: Action,
    /// The app command that calls it, if the app does.
    pub app: Option<&'static str>,
    /// The `kinko` command that calls it, if the command does.
    pub cli: Option<&'static str>,
}

const fn entry(
    method: &'static str,
    action: Action,
    app: Option<&'static str>,
    cli: Option<&'static str>,
) -> Entry {
    Entry {
        method,
        action,
        app,
        cli,
    }
}

/// Every action, by area.
#[rustfmt::skip]
pub const LIST: &[Entry] = &[
    // start
    entry("Vault::sign_in", Action::SessionStart, Some("sign_in"), Some("login")),
    entry("Session::start_token", Action::SessionStart, None, Some("login")),
    entry("Session::end", Action::SessionEnd, Some("sign_out"), Some("logout")),
    entry("Session::end_idle", Action::SessionEnd, Some("lock"), None),
    entry("Session::status", Action::Status, None, Some("status")),
    entry("Session::change_password", Action::ChangeOwnPassword, Some("change_password"), Some("passwd")),
    entry("Session::totp_enroll", Action::TotpEnroll, Some("totp_enroll"), Some("totp enroll")),
    entry("Session::totp_confirm", Action::TotpConfirm, Some("totp_confirm"), Some("totp confirm")),
    entry("Session::token_enrol", Action::TokenEnrol, Some("token_enrol"), Some("token enrol")),
    // documents
    entry("Session::import_cancellable", Action::DocumentImport, Some("import_document"), Some("import")),
    entry("Session::list_documents", Action::DocumentList, Some("list_documents"), Some("list")),
    entry("Session::show_document", Action::DocumentShow, Some("show_document"), Some("show")),
    entry("Session::view_document", Action::DocumentView, Some("view_document"), None),
    entry("Session::export", Action::DocumentOpen, Some("export_document"), Some("open")),
    entry("Session::approve_export", Action::ExportApprove, Some("approve_export"), Some("approve-export")),
    entry("Session::grant", Action::Grant, Some("grant"), Some("grant")),
    entry("Session::revoke", Action::Revoke, Some("revoke"), Some("revoke")),
    entry("Session::grants_by_person", Action::GrantList, Some("grants_by_person"), None),
    // people
    entry("Session::add_account", Action::AccountAdd, Some("add_account"), Some("account add")),
    entry("Session::list_accounts", Action::AccountList, Some("list_accounts"), Some("account list")),
    entry("Session::account_lifecycle", Action::AccountManage, Some("account_lifecycle"), Some("account suspend")),
    entry("Session::set_account_hours", Action::AccountManage, Some("set_account_hours"), Some("account hours")),
    entry("Session::reset_account", Action::AccountManage, Some("reset_account"), Some("account reset")),
    entry("Session::recover_account", Action::AccountRecover, None, Some("account recover")),
    entry("Session::certify_account", Action::AccountCertify, Some("certify_account"), Some("account certify")),
    entry("Session::roster_request_add", Action::RosterRequest, Some("roster_request_add"), Some("roster request add")),
    entry("Session::roster_request_remove", Action::RosterRequest, Some("roster_request_remove"), Some("roster request remove")),
    entry("Session::roster_approve", Action::RosterApprove, Some("roster_approve"), Some("roster approve")),
    entry("Session::roster_list", Action::RosterRead, Some("roster_list"), Some("roster list")),
    entry("Session::roster_export", Action::RosterExport, None, Some("roster export")),
    entry("Session::policy_show", Action::PolicyShow, Some("policy_show"), Some("policy show")),
    entry("Session::policy_set", Action::PolicySet, Some("policy_set"), Some("policy set")),
    entry("Session::approve_device", Action::DeviceApprove, None, Some("device approve")),
    // oversight
    entry("Session::audit_log", Action::AuditRead, Some("audit_log"), Some("audit log")),
    entry("Session::audit_proof", Action::AuditRead, None, Some("audit proof")),
    entry("Session::audit_verify", Action::AuditVerify, Some("audit_verify"), Some("audit verify")),
    entry("Session::audit_checkpoint", Action::AuditCheckpoint, Some("audit_checkpoint"), Some("audit checkpoint")),
    entry("Session::audit_archive", Action::AuditArchive, None, Some("audit archive")),
    entry("Session::audit_report", Action::AuditReport, None, Some("audit report")),
    entry("Session::alerts", Action::AlertRead, Some("alerts"), Some("alerts")),
    entry("Session::alert_ack", Action::AlertAck, Some("alert_ack"), Some("alerts")),
    entry("Session::verify", Action::VaultVerify, Some("audit_verify"), Some("verify")),
    entry("Session::incident_add", Action::IncidentRecord, Some("incident_add"), Some("incident add")),
    entry("Session::incident_update", Action::IncidentRecord, Some("incident_update"), Some("incident update")),
    entry("Session::incident_close", Action::IncidentRecord, Some("incident_close"), Some("incident close")),
    entry("Session::incidents", Action::IncidentRead, Some("incidents"), Some("incident list")),
    entry("Session::incident_report", Action::IncidentRead, None, Some("incident report")),
    entry("Session::status_report", Action::StatusReport, Some("status_report"), Some("report status")),
    // contract
    entry("Session::disposal_plan", Action::DisposalPlan, Some("disposal_plan"), Some("disposal plan")),
    entry("Session::disposal_status", Action::DisposalRead, Some("disposal_status"), Some("disposal status")),
    entry("Session::disposal_approve", Action::DisposalApprove, Some("disposal_approve"), Some("disposal approve")),
    entry("Session::disposal_execute", Action::DisposalExecute, Some("disposal_execute"), Some("disposal execute")),
    entry("Session::disposal_confirm", Action::DisposalConfirm, Some("disposal_confirm"), Some("disposal confirm")),
    entry("Session::disposal_report", Action::DisposalReport, Some("disposal_report"), Some("disposal report")),
    entry("Session::return_package", Action::ReturnPackage, None, Some("return")),
    // keys
    entry("Session::backup", Action::Backup, None, Some("backup")),
    entry("Session::backups", Action::Backup, None, Some("backups")),
    entry("Vault::restore", Action::Restore, None, Some("restore")),
    entry("Session::rekey", Action::Rekey, None, Some("rekey")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_an_action() {
        for a in Action::ALL {
            assert!(
                LIST.iter().any(|e| e.action == a),
                "{a:?} is in the permission matrix but no action checks it"
            );
        }
    }

    #[test]
    fn every_listed_method_is_in_the_actions_layer() {
        let sources = [
            include_str!("start.rs"),
            include_str!("documents.rs"),
            include_str!("people.rs"),
            include_str!("oversight.rs"),
            include_str!("contract.rs"),
            include_str!("keys.rs"),
            include_str!("../session.rs"),
        ];
        for e in LIST {
            let name = e.method.rsplit("::").next().unwrap();
            let needle = format!("pub fn {name}(");
            assert!(
                sources.iter().any(|s| s.contains(&needle)),
                "{} is listed but not defined in actions/ or session.rs",
                e.method
            );
        }
    }
}
