//! Kinko's core: every rule of the domain. Shells (the `kinko` command,
//! the desktop app, later a server) call one function per user action, in
//! [`actions`]; each checks the session's permission, does the work and
//! writes its audit event in one transaction (`Session::perform`).
//!
//! Layers (see `docs/architecture.md`): [`actions`] over [`session`] (a
//! signed-in person and the action path) over the rule modules, named for
//! the domain ([`account`], [`document`], [`grant`], [`roster`],
//! [`policy`], [`audit`], [`disposal`], [`backup`], [`rekey`] …), which
//! know nothing of sessions and are handed an [`actor::Ctx`] and a
//! transaction; under them storage ([`db`], [`keyslots`], [`layout`],
//! [`fsutil`]) and [`crypto`], the only module that names a cryptographic
//! primitive crate (the audit tree's `ct-merkle` and TOTP's `totp-rs` are
//! protocols built on them). `scripts/layers.py` holds these lines.

pub mod about;
pub mod account;
pub mod actions;
pub mod actor;
pub mod audit;
pub mod backup;
pub mod cert;
pub(crate) mod circle;
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
pub(crate) mod label;
pub mod layout;
pub mod lockout;
pub mod object;
pub mod package;
pub mod parsers;
pub mod permission;
pub mod policy;
pub mod possession;
pub mod rekey;
pub mod replica;
pub mod revocation;
pub mod roster;
pub(crate) mod sealing;
pub mod session;
pub mod signed;
pub mod statement;
pub mod status_report;
pub mod terminal_approval;
pub mod time;
pub mod token;
pub(crate) mod trail_facts;
pub mod upgrade;
pub mod vault;
pub mod viewer;
pub mod wareki;
pub mod witness;

pub use account::{AccountInfo, Certification, Certified, NewAccount, Password};
pub use actor::{Actor, Pending};
pub use document::{DocumentInfo, ExportReceipt, ExportTarget, ImportRequest};
pub use error::{Error, Kind, Result};
pub use integrity::VerifyReport;
pub use permission::{Action, Role, Roles};
pub use session::Session;
pub use vault::{InitOptions, Vault};
