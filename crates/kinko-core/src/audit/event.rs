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
///
/// A certified person's events form a chain: each signature covers the
/// digest of their previous certified event's signed message, and before
/// linking to it the appender checks that it is theirs. So the signature
/// of a person's last event vouches for all their earlier ones, and
/// `verify` checks one signature per person (`docs/audit.md`).
pub struct EventSigner {
    pub vault_id: String,
    pub account: String,
    pub serial: Option<i64>,
    /// The root the signer's keyslot trusts: an earlier event of theirs
    /// under an older certificate is checked against that certificate.
    pub(crate) root_public: Vec<u8>,
    pub(crate) key: crate::crypto::EcdsaSecret,
    /// The last event of this signer's chain known to be theirs (signed
    /// here or checked here): its number and its message's digest.
    known: std::sync::Mutex<Option<(i64, [u8; 32])>>,
}

impl EventSigner {
    pub fn new(
        vault_id: &str,
        root_public: &[u8],
        account: &str,
        serial: Option<i64>,
        secret: &[u8; 32],
    ) -> crate::error::Result<Self> {
        Ok(EventSigner {
            vault_id: vault_id.into(),
            account: account.into(),
            serial,
            root_public: root_public.to_vec(),
            key: crate::crypto::EcdsaSecret::parse(secret)?,
            known: Default::default(),
        })
    }

    /// Is this a signature of the signer's own current key?
    pub(crate) fn signed_by_me(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.public().verify(message, signature)
    }

    pub(crate) fn known(&self) -> Option<(i64, [u8; 32])> {
        *self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_known(&self, seq: i64, digest: [u8; 32]) {
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = Some((seq, digest));
    }
}

/// The bytes an event's signature covers: the vault, the event's leaf
/// hash (which covers its number and every field), who signed it, under
/// which certificate, and the digest of their previous certified event's
/// message ([`chain_digest`]; none for their first, and for events of
/// keys not yet certified, which stand outside the chain).
pub fn signed_bytes(
    vault_id: &str,
    leaf: &[u8; 32],
    signer: &str,
    serial: Option<i64>,
    previous: Option<&[u8]>,
) -> Vec<u8> {
    let mut buf = b"kinko audit event signature v2\0".to_vec();
    for part in [
        vault_id.as_bytes(),
        &leaf[..],
        signer.as_bytes(),
        previous.unwrap_or_default(),
    ] {
        buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
        buf.extend_from_slice(part);
    }
    buf.extend_from_slice(&serial.unwrap_or(-1).to_be_bytes());
    buf
}

/// What the next event of the same signer links to: SHA-256 over a label
/// and the event's signed message (which covers its own link, so each
/// signature vouches for the signer's whole chain before it).
pub fn chain_digest(message: &[u8]) -> [u8; 32] {
    use crate::crypto::Digest;
    crate::crypto::Sha256::new()
        .chain_update(b"kinko audit chain v1\0")
        .chain_update(message)
        .finalize()
        .into()
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

/// The events that give someone a document's contents: an export (`kinko
/// open`, the app's export) and a view in the app's viewer. Alerts and
/// reports count both (A4, A5): reading 500 documents on screen is as
/// much an access as taking them out.
pub(crate) const CONTENT_ACCESS: [&str; 2] = ["document.export", "document.view"];

/// Did this event give its actor a document's contents?
pub(crate) fn is_content_access(e: &Event) -> bool {
    e.outcome == OK && CONTENT_ACCESS.contains(&e.event.as_str())
}

/// Did this event take a document's contents out of the vault?
pub(crate) fn is_export(e: &Event) -> bool {
    e.outcome == OK && e.event == CONTENT_ACCESS[0]
}

/// How the detail of an event moved from the inbox ends.
pub(crate) const FROM_INBOX: &str = ", from the inbox)";

/// Was this event moved from the inbox (its time is what the sealer
/// wrote)?
pub(crate) fn from_the_inbox(e: &Event) -> bool {
    e.detail.ends_with(FROM_INBOX)
}
