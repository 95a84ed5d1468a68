//! The server's one error type. Each variant decides the HTTP status a
//! terminal sees and the exit code of a `kinko-server` command.

/// Every failure of the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("the database: {0}")]
    Database(String),
    #[error("the certificate authority: {0}")]
    Authority(String),
    #[error("the object store: {0}")]
    Objects(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// A request from no enrolled terminal, a revoked one, or with an
    /// enrolment token or code the server does not know.
    #[error("{0}")]
    Refused(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The terminal wrote from an older head than the log's, or wrote
    /// without its turn: it catches up and tries again.
    #[error("{0}")]
    Conflict(String),
    /// Nothing can be done now (no turn within the wait): try again.
    #[error("{0}")]
    Busy(String),
    #[error("a server already exists at {0}")]
    Exists(std::path::PathBuf),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// A serialisation failure or a deadlock: the transaction may simply be
/// tried again.
pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_retryable(&e) {
            return Error::Busy("the database was busy with another change; try again".into());
        }
        // The driver's Display says only "db error"; the detail is in
        // the source.
        match e.as_db_error() {
            Some(db) => Error::Database(db.message().to_string()),
            None => Error::Database(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Error::Database(format!("no connection to PostgreSQL: {e}"))
    }
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Self {
        Error::Authority(e.to_string())
    }
}
