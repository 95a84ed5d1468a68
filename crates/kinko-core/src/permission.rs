//! Roles and the permission matrix (P1). Every core action asks
//! [`check`] before it does anything; `docs/roles.md` prints this table.
//!
//! Separation of duties: the system administrator runs accounts and never
//! reads or receives a document; the auditor reads the audit trail and
//! nothing else. Neither can be combined with a role that reads documents.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 情報管理責任者: Information Management Officer.
    Officer,
    /// 情報取扱管理担当者: Handling Manager.
    Manager,
    /// 情報取扱者: handler.
    Handler,
    /// システム管理者: system administrator.
    Sysadmin,
    /// 監査担当者: auditor.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Officer,
        Role::Manager,
        Role::Handler,
        Role::Sysadmin,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Manager => "manager",
            Role::Handler => "handler",
            Role::Sysadmin => "sysadmin",
            Role::Auditor => "auditor",
        }
    }

    /// Roles that may hold document keys.
    pub fn reads_documents(self) -> bool {
        matches!(self, Role::Officer | Role::Manager | Role::Handler)
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown role '{s}': use officer, manager, handler, sysadmin or auditor"
                ))
            })
    }
}

/// A set of roles, stored as a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles(pub Vec<Role>);

impl Roles {
    /// Parse `officer,handler`, refusing combinations that break the
    /// separation of duties.
    pub fn parse(text: &str) -> Result<Self> {
        let mut roles: Vec<Role> = text.split(',').map(str::parse).collect::<Result<_>>()?;
        roles.sort();
        roles.dedup();
        let r = Roles(roles);
        r.check_separation()?;
        Ok(r)
    }

    fn check_separation(&self) -> Result<()> {
        if self.0.is_empty() {
            return Err(Error::invalid("an account needs at least one role"));
        }
        let reads = self.0.iter().any(|r| r.reads_documents());
        for apart in [Role::Sysadmin, Role::Auditor] {
            if self.has(apart) && (reads || self.0.len() > 1) {
                return Err(Error::invalid(format!(
                    "the {} role cannot be combined with another role (separation of duties)",
                    apart.as_str()
                )));
            }
        }
        Ok(())
    }

    /// Does any of these roles allow `action`?
    pub fn allow(&self, action: Action) -> bool {
        self.0.iter().any(|r| allows(*r, action))
    }

    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn reads_documents(&self) -> bool {
        self.0.iter().any(|r| r.reads_documents())
    }

    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Every action a signed-in person can ask the core for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    AccountAdd,
    AccountList,
    /// Suspend, resume, disable, reset, unlock, set hours.
    AccountManage,
    /// Re-wrap a reset account's documents with the recovery code.
    AccountRecover,
    /// Vouch for an account's person, roles and keys (the officer).
    AccountCertify,
    ChangeOwnPassword,
    TotpEnroll,
    TotpConfirm,
    /// Bind one's own keyslot to a PKCS#11 token as well.
    TokenEnrol,
    PolicyShow,
    PolicySet,
    RosterRequest,
    RosterApprove,
    RosterRead,
    RosterExport,
    SessionStart,
    SessionEnd,
    Status,
    VaultVerify,
    DocumentImport,
    DocumentList,
    DocumentShow,
    /// Read a document in the app's viewer, from memory (D4).
    DocumentView,
    DocumentOpen,
    ExportApprove,
    Grant,
    Revoke,
    /// See every grant in force, by person.
    GrantList,
    AuditRead,
    // The actions of the audit, contract-end and hardening issues: their
    // rules stand here now so the matrix is whole; their functions call
    // `check` like every other.
    /// export a signed checkpoint.
    AuditCheckpoint,
    /// verify the audit trail.
    AuditVerify,
    /// archive events older than the retention period, then drop them.
    AuditArchive,
    /// write the audit report.
    AuditReport,
    /// list alerts.
    AlertRead,
    /// acknowledge an alert with a note.
    AlertAck,
    /// write the disposal work plan (別添1).
    DisposalPlan,
    /// see the current disposal plan and where it stands.
    DisposalRead,
    /// record the bureau's approval of the plan.
    DisposalApprove,
    /// execute the approved plan.
    DisposalExecute,
    /// confirm the execution (another person).
    DisposalConfirm,
    /// write the signed completion report (別添2).
    DisposalReport,
    /// write the return package for the bureau.
    ReturnPackage,
    /// add, update or close an incident.
    IncidentRecord,
    /// list and report incidents.
    IncidentRead,
    /// write the periodic status report (履行状況報告).
    StatusReport,
    /// write an encrypted backup.
    Backup,
    /// re-encrypt under new keys.
    Rekey,
    /// restore a backup into a new vault (recorded in the restored vault).
    Restore,
    /// approve a terminal waiting to be enrolled with the office server.
    DeviceApprove,
}

impl Action {
    pub const ALL: [Action; 49] = [
        Action::AccountAdd,
        Action::AccountList,
        Action::AccountManage,
        Action::AccountRecover,
        Action::AccountCertify,
        Action::ChangeOwnPassword,
        Action::TotpEnroll,
        Action::TotpConfirm,
        Action::TokenEnrol,
        Action::PolicyShow,
        Action::PolicySet,
        Action::RosterRequest,
        Action::RosterApprove,
        Action::RosterRead,
        Action::RosterExport,
        Action::SessionStart,
        Action::SessionEnd,
        Action::Status,
        Action::VaultVerify,
        Action::DocumentImport,
        Action::DocumentList,
        Action::DocumentShow,
        Action::DocumentView,
        Action::DocumentOpen,
        Action::ExportApprove,
        Action::Grant,
        Action::Revoke,
        Action::GrantList,
        Action::AuditRead,
        Action::AuditCheckpoint,
        Action::AuditVerify,
        Action::AuditArchive,
        Action::AuditReport,
        Action::AlertRead,
        Action::AlertAck,
        Action::DisposalPlan,
        Action::DisposalRead,
        Action::DisposalApprove,
        Action::DisposalExecute,
        Action::DisposalConfirm,
        Action::DisposalReport,
        Action::ReturnPackage,
        Action::IncidentRecord,
        Action::IncidentRead,
        Action::StatusReport,
        Action::Backup,
        Action::Rekey,
        Action::Restore,
        Action::DeviceApprove,
    ];

    /// The audit event name of this action.
    /// May a restricted person take it (one who may only set their
    /// credentials: a new or reset account, an expired password, TOTP not
    /// yet enrolled, keys not yet certified)?
    pub fn while_restricted(self) -> bool {
        matches!(
            self,
            Action::ChangeOwnPassword
                | Action::TotpEnroll
                | Action::TotpConfirm
                | Action::TokenEnrol
                | Action::PolicyShow
                | Action::SessionStart
                | Action::SessionEnd
                | Action::Status
        )
    }

    pub fn event(self) -> &'static str {
        match self {
            Action::AccountAdd => "account.add",
            Action::AccountList => "account.list",
            Action::AccountManage => "account.manage",
            Action::AccountRecover => "account.recover",
            Action::AccountCertify => "account.certify",
            Action::ChangeOwnPassword => "account.passwd",
            Action::TotpEnroll => "account.totp_enroll",
            Action::TotpConfirm => "account.totp_confirm",
            Action::TokenEnrol => "account.token_enrol",
            Action::PolicyShow => "policy.show",
            Action::PolicySet => "policy.set",
            Action::RosterRequest => "roster.request",
            Action::RosterApprove => "roster.approve",
            Action::RosterRead => "roster.read",
            Action::RosterExport => "roster.export",
            Action::SessionStart => "session.start",
            Action::SessionEnd => "session.end",
            Action::Status => "vault.status",
            Action::VaultVerify => "vault.verify",
            Action::DocumentImport => "document.import",
            Action::DocumentList => "document.list",
            Action::DocumentShow => "document.show",
            Action::DocumentView => "document.view",
            Action::DocumentOpen => "document.export",
            Action::ExportApprove => "document.approve_export",
            Action::Grant => "document.grant",
            Action::Revoke => "document.revoke",
            Action::GrantList => "document.grants",
            Action::AuditRead => "audit.read",
            Action::AuditCheckpoint => "audit.checkpoint",
            Action::AuditVerify => "audit.verify",
            Action::AuditArchive => "audit.archive",
            Action::AuditReport => "audit.report",
            Action::AlertRead => "alert.read",
            Action::AlertAck => "alert.ack",
            Action::DisposalPlan => "disposal.plan",
            Action::DisposalRead => "disposal.read",
            Action::DisposalApprove => "disposal.approve",
            Action::DisposalExecute => "disposal.execute",
            Action::DisposalConfirm => "disposal.confirm",
            Action::DisposalReport => "disposal.report",
            Action::ReturnPackage => "disposal.return",
            Action::IncidentRecord => "incident.record",
            Action::IncidentRead => "incident.read",
            Action::StatusReport => "report.status",
            Action::Backup => "vault.backup",
            Action::Rekey => "vault.rekey",
            Action::Restore => "vault.restore",
            Action::DeviceApprove => "device.approve",
        }
    }
}

/// The matrix: may someone holding `role` do `action`?
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ChangeOwnPassword | TotpEnroll | TotpConfirm | TokenEnrol | PolicyShow | SessionStart
        | SessionEnd | Status => true,
        AccountManage => matches!(role, Sysadmin | Officer),
        AccountRecover | AccountCertify | PolicySet | RosterApprove => role == Officer,
        RosterRequest | RosterRead | RosterExport => matches!(role, Officer | Manager),
        // Accounts: the system administrator runs them; the officer may
        // too, so that a new vault can be set up before a sysadmin exists.
        AccountAdd | AccountList | DeviceApprove => matches!(role, Sysadmin | Officer),
        VaultVerify => matches!(role, Officer | Sysadmin | Auditor),
        DocumentImport | Grant | Revoke | GrantList => matches!(role, Officer | Manager),
        DocumentList | DocumentShow | DocumentView | DocumentOpen => role.reads_documents(),
        ExportApprove => role == Officer,
        AuditRead | AuditCheckpoint | AuditVerify | AuditReport => {
            matches!(role, Officer | Auditor)
        }
        AlertRead | IncidentRead | DisposalRead => matches!(role, Officer | Manager | Auditor),
        AlertAck | IncidentRecord | DisposalExecute | DisposalConfirm => {
            matches!(role, Officer | Manager)
        }
        AuditArchive | DisposalPlan | DisposalApprove | DisposalReport | ReturnPackage
        | StatusReport | Rekey => role == Officer,
        Backup | Restore => matches!(role, Officer | Sysadmin),
    }
}

/// Refuse with a sentence naming the action if none of `roles` allows it.
/// Every action someone holding `roles` may take, by audit event name
/// (`document.import` …): what a shell shows, so that it decides nothing
/// about roles itself. The core still checks each call.
pub fn allowed(roles: &Roles) -> Vec<&'static str> {
    Action::ALL
        .into_iter()
        .filter(|a| roles.0.iter().any(|r| allows(*r, *a)))
        .map(Action::event)
        .collect()
}

pub fn check(roles: &Roles, action: Action) -> Result<()> {
    if roles.0.iter().any(|r| allows(*r, action)) {
        Ok(())
    } else {
        Err(Error::denied(format!(
            "your role ({}) does not allow {}",
            roles.to_text(),
            action.event()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysadmin_and_auditor_never_read_documents() {
        for role in [Role::Sysadmin, Role::Auditor] {
            for a in [
                Action::DocumentImport,
                Action::DocumentList,
                Action::DocumentShow,
                Action::DocumentView,
                Action::DocumentOpen,
                Action::Grant,
            ] {
                assert!(!allows(role, a), "{role:?} {a:?}");
            }
        }
        assert!(!allows(Role::Sysadmin, Action::AuditRead));
        assert!(!allows(Role::Auditor, Action::AccountAdd));
    }

    #[test]
    fn separation_of_duties_in_role_sets() {
        assert!(Roles::parse("sysadmin,handler").is_err());
        assert!(Roles::parse("auditor,officer").is_err());
        assert!(Roles::parse("auditor,sysadmin").is_err());
        assert!(Roles::parse("").is_err());
        assert!(Roles::parse("root").is_err());
        assert_eq!(
            Roles::parse("handler,manager,handler").unwrap().to_text(),
            "manager,handler"
        );
    }
}
