//! One error type for the whole core. Each variant belongs to a [`Kind`]
//! that the shells turn into an exit code (CLI) or an error code (app);
//! the text is a single sentence that names what was wrong and never holds
//! secrets or document contents.

use std::path::PathBuf;

/// What sort of failure this is: decides the CLI exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else: I/O, bad input, a missing vault (exit 1).
    Failed,
    /// Not signed in, wrong credentials, expired session (exit 3).
    Auth,
    /// Signed in but the role or grant does not allow it (exit 4).
    Denied,
    /// Stored bytes are not what Kinko wrote: tampering or damage (exit 5).
    Integrity,
}

/// Every failure the core reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no Kinko vault at {0}")]
    NoVault(PathBuf),
    #[error("a vault already exists at {0}")]
    VaultExists(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("wrong user ID or password")]
    BadCredentials,
    #[error("not signed in: {0}")]
    NotSignedIn(String),
    #[error("the account is locked after repeated failed sign-ins until {0} (or until the system administrator unlocks it)")]
    Locked(String),
    #[error("not signed in: {0}")]
    BadCode(String),
    #[error("not permitted: {0}")]
    Denied(String),
    #[error("tampering detected: {0}")]
    Tampered(String),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    #[error("the source file changed while it was being imported: {0}")]
    SourceChanged(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the audit event could not be written, so nothing was done: {0}")]
    AuditWrite(String),
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
    #[error("cancelled: {0}")]
    Cancelled(String),
}

impl Error {
    /// The kind decides how a shell reports the error (exit code).
    pub fn kind(&self) -> Kind {
        match self {
            Error::BadCredentials
            | Error::NotSignedIn(_)
            | Error::Locked(_)
            | Error::BadCode(_) => Kind::Auth,
            Error::Denied(_) => Kind::Denied,
            Error::Tampered(_) => Kind::Integrity,
            _ => Kind::Failed,
        }
    }

    /// A short, stable code for scripts and the app (`{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoVault(_) => "no_vault",
            Error::VaultExists(_) => "vault_exists",
            Error::Io { .. } => "io",
            Error::Invalid(_) => "invalid",
            Error::NotFound(_) => "not_found",
            Error::BadCredentials => "bad_credentials",
            Error::NotSignedIn(_) => "not_signed_in",
            Error::Locked(_) => "locked",
            Error::BadCode(_) => "bad_code",
            Error::Denied(_) => "denied",
            Error::Tampered(_) => "tampered",
            Error::Unsupported(_) => "unsupported",
            Error::SourceChanged(_) => "source_changed",
            Error::Database(_) => "database",
            Error::AuditWrite(_) => "audit_write",
            Error::Crypto(_) => "crypto",
            Error::Cancelled(_) => "cancelled",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub(crate) fn tampered(msg: impl Into<String>) -> Self {
        Error::Tampered(msg.into())
    }

    pub(crate) fn denied(msg: impl Into<String>) -> Self {
        Error::Denied(msg.into())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            // SQLCipher reports a page whose HMAC fails as "not a database"
            // or as corruption: either way the file is not what we wrote.
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
                Error::Tampered("the vault database fails its integrity check".into())
            }
            _ => Error::Database(e.to_string()),
        }
    }
}

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
