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

/// `GET /v1/enrol/waiting/{code}`: a terminal waiting for approval, as the
/// approver's terminal records it in the signed event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaitingTerminal {
    pub code: String,
    pub name: String,
    pub account: Option<String>,
    /// SHA-256 (hex) of the public key in its signing request (the DER
    /// SubjectPublicKeyInfo): what the approval binds.
    pub key: String,
}

/// A terminal as the server lists it (`GET /v1/terminals`), for a
/// terminal's `audit verify` to match with the signed approvals.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListedTerminal {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
    /// SHA-256 (hex) of its certified public key, as in [`WaitingTerminal`].
    pub key: Option<String>,
    /// The unit of the log whose event approved it; none when it was
    /// enrolled with the operator's token or approved on the server box.
    pub approved_in: Option<u64>,
    pub revoked: bool,
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

/// `GET /v1/vault`: the vault this server holds, if one was created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VaultInfo {
    pub vault_id: String,
    pub schema_version: i64,
}

/// The answer to `GET /v1/vault`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultState {
    pub vault: Option<VaultInfo>,
    /// How many units the log holds.
    pub head: u64,
    /// The newest keyslots file (base64), as the last unit that changed it
    /// left it: what a terminal needs to sign in before it has a replica.
    pub keyslots: Option<String>,
    /// The newest snapshot unit (0: none), where a terminal builds its
    /// replica from under the database key it was sealed with.
    #[serde(default)]
    pub snapshot: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One unit of the vault's log as a terminal sends it: the sealed change
/// of one transaction (base64; the server cannot open it) and, when the
/// transaction changed them, the keyslots (base64).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewUnit {
    pub sealed: String,
    pub keyslots: Option<String>,
    /// The whole database under a new database key (a rekey, a disabled
    /// account), not a change: terminals build their replicas from it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub snapshot: bool,
}

/// One unit as the server hands it out, with its place in the log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Unit {
    pub seq: u64,
    pub sealed: String,
    pub keyslots: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub snapshot: bool,
}

/// `POST /v1/vault`: the first terminal creates the vault with its first
/// unit (the new vault's rows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateVault {
    pub vault: VaultInfo,
    pub unit: NewUnit,
}

/// `POST /v1/turn`: wait for this terminal's turn to write, and get the
/// units after `after` to bring its replica to the head first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnRequest {
    pub after: u64,
}

/// A turn: the lease to present with the unit, the head it was given at,
/// and the units the terminal had not seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Turn {
    pub lease: String,
    pub head: u64,
    pub units: Vec<Unit>,
}

/// `POST /v1/units`: append a unit at `base + 1`, under a turn's lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Append {
    pub lease: String,
    pub base: u64,
    pub unit: NewUnit,
    /// Approve the terminal waiting with this code and key, in the same
    /// transaction as the unit (which holds the signed event that records
    /// the approval): no approval without its event, no event without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve: Option<Approve>,
    /// Erase these objects with the unit (whose signed events record a
    /// disposal's removal of each): recorded in the same transaction and
    /// deleted from the store once it commits; never stored again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erase: Vec<String>,
}

/// `GET /v1/erased`: an object the server erased, and the unit whose
/// events record why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErasedObject {
    pub name: String,
    pub unit: u64,
}

/// Which waiting terminal an append approves: its code, and the digest of
/// its key that the signed event names (the server approves only a
/// request whose key has that digest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Approve {
    pub code: String,
    pub key: String,
}

/// The answer to an append: the unit's place, and the terminal approved
/// with it, if one was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Appended {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<TerminalInfo>,
}

/// `GET /v1/units?after=N`: units after N, at most `limit`, for reading
/// without a turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Units {
    pub head: u64,
    pub units: Vec<Unit>,
}
