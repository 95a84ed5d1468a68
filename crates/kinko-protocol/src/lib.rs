//! The words of the office server's HTTP API (`docs/server.md`), shared
//! by `kinko-server` and the terminals' `kinko-remote` so that the two
//! cannot drift apart. JSON over HTTPS; every path starts `/v1/`.

use serde::{Deserialize, Serialize};

/// `POST /v1/enrol`: what a terminal sends to be enrolled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// Its certificate signing request (PEM) for a P-256 key it made.
    pub csr: String,
    /// A name people recognise it by (the host name, by default).
    pub name: String,
    /// The person it is for, when they said so.
    pub account: Option<String>,
    /// A one-time token (the first terminal, or one the operator enrols);
    /// without one the request waits for approval.
    pub token: Option<String>,
}

/// The answer to `POST /v1/enrol` and `GET /v1/enrol/{request}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EnrolAnswer {
    /// Enrolled: the terminal's ID and certificate (PEM).
    Issued {
        terminal: String,
        certificate: String,
    },
    /// Waiting for the system administrator to approve `code`; ask again
    /// with `request`, a secret only this terminal holds.
    Waiting { request: String, code: String },
}

/// A terminal as the server knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TerminalInfo {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
}

/// `GET /v1/hello`: who the server takes the caller to be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub server: String,
    pub version: String,
    pub terminal: TerminalInfo,
}

/// Every error answer: a short code and one line for a person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `refused` (401), `invalid` (400), `not_found` (404), `server` (503).
    pub code: String,
    pub message: String,
}
