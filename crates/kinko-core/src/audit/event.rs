//! One audit event and its stored record: the words of the trail.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Kind};

/// Outcome words stored in events.
pub const OK: &str = "ok";
pub const DENIED: &str = "denied";
pub const FAILED: &str = "failed";
pub const TAMPERED: &str = "tampered";

/// The outcome an event records for an action that did not happen
/// because of `e`: a refusal is `denied`, tampering `tampered`, anything
/// else `failed`. The one map, for every refusal the trail records.
pub fn outcome_of(e: &Error) -> &'static str {
    match e.kind() {
        Kind::Denied => DENIED,
        Kind::Integrity => TAMPERED,
        Kind::Auth | Kind::Failed => FAILED,
    }
}

/// The actor of events Kinko writes by itself (alerts, clock anomalies).
pub const SYSTEM: &str = "kinko";

/// One audit event as written (A1: who, what, which object, outcome,
/// exact UTC time, terminal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Event {
    pub at: String,
    pub actor: String,
    pub event: String,
    pub object: String,
    pub outcome: String,
    pub terminal: String,
    pub detail: String,
}

impl Event {
    pub fn new(
        actor: &str,
        event: &str,
        object: &str,
        outcome: &str,
        terminal: &str,
        detail: &str,
    ) -> Self {
        Event {
            at: now(),
            actor: actor.into(),
            event: event.into(),
            object: object.into(),
            outcome: outcome.into(),
            terminal: terminal.into(),
            detail: detail.into(),
        }
    }

    /// The bytes the event's leaf hash covers: its sequence number and
    /// every field, each length-prefixed, so no two events share them.
    pub fn leaf_bytes(&self, seq: i64) -> Vec<u8> {
        let mut buf = b"kinko audit event v1".to_vec();
        buf.extend_from_slice(&seq.to_be_bytes());
        for part in [
            &self.at,
            &self.actor,
            &self.event,
            &self.object,
            &self.outcome,
            &self.terminal,
            &self.detail,
        ] {
            buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
            buf.extend_from_slice(part.as_bytes());
        }
        buf
    }
}

/// Who signs an event as it is appended: the person whose session wrote
/// it (for events Kinko raises itself, such as alerts, and failed sign-ins
/// moved in from the inbox, the person whose action raised or moved them).
/// `serial` is their certificate's; none until the officer certified them.
pub struct EventSigner<'a> {
    pub vault_id: &'a str,
    pub account: &'a str,
    pub serial: Option<i64>,
    pub(crate) key: crate::crypto::EcdsaSecret,
}

impl<'a> EventSigner<'a> {
    pub fn new(
        vault_id: &'a str,
        account: &'a str,
        serial: Option<i64>,
        secret: &[u8; 32],
    ) -> crate::error::Result<Self> {
        Ok(EventSigner {
            vault_id,
            account,
            serial,
            key: crate::crypto::EcdsaSecret::parse(secret)?,
        })
    }
}

/// The bytes an event's signature covers: the vault, the event's leaf
/// hash (which covers its number and every field) and who signed it.
pub fn signed_bytes(vault_id: &str, leaf: &[u8; 32], signer: &str, serial: Option<i64>) -> Vec<u8> {
    let mut buf = b"kinko audit event signature v1\0".to_vec();
    for part in [vault_id.as_bytes(), &leaf[..], signer.as_bytes()] {
        buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
        buf.extend_from_slice(part);
    }
    buf.extend_from_slice(&serial.unwrap_or(-1).to_be_bytes());
    buf
}

/// May `signer` sign an event that names `e.actor`? Only their own, the
/// events Kinko raised on their action, and failed sign-ins they moved in
/// from the inbox (whoever signs in next moves them).
pub(crate) fn may_sign(signer: &str, e: &Event) -> bool {
    signer == e.actor
        || e.actor == SYSTEM
        || (e.actor == "-" && e.event == "audit.inbox")
        || (e.event == "session.signin"
            && (e.outcome == FAILED || e.outcome == TAMPERED)
            && e.detail.ends_with("from the inbox)"))
}

/// A stored event with its place in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "AuditRecord"))]
pub struct Record {
    pub seq: i64,
    #[serde(flatten)]
    pub event: Event,
    /// Hex of the event's leaf hash.
    pub leaf: String,
}

pub use crate::time::now;
