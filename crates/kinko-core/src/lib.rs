//! Kinko's core: every rule of the domain. Shells (the `kinko` command,
//! the desktop app) call one function per user action; each checks the
//! session's permission, does the work and writes its audit event in one
//! transaction.
//!
//! Modules are named for the domain: [`vault`] (the directory on disk,
//! signing in), [`session`] (a signed-in person and the action path),
//! [`account`], [`document`], [`grant`], [`audit`], [`integrity`],
//! [`permission`]; [`crypto`] is the only module touching primitives.

pub mod about;
pub mod account;
pub mod audit;
pub mod backup;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod disposal;
pub mod document;
pub mod error;
pub mod forms;
pub mod fsutil;
pub mod grant;
pub mod incident;
pub mod integrity;
pub mod keyslots;
pub mod lockout;
pub mod package;
pub mod parsers;
pub mod permission;
pub mod policy;
pub mod rekey;
pub mod roster;
pub mod session;
pub mod signed;
pub mod status_report;
pub mod time;
pub mod vault;
pub mod viewer;
pub mod wareki;

pub use account::{AccountInfo, NewAccount, Password};
pub use document::{DocumentInfo, ExportReceipt, ExportTarget, ImportRequest};
pub use error::{Error, Kind, Result};
pub use integrity::VerifyReport;
pub use permission::{Action, Role, Roles};
pub use session::{Pending, Session};
pub use vault::{InitOptions, Vault};
