//! Granting and revoking per-person access (D3). Access is enforced by
//! keys: a grant wraps the document's DEK to the person's HPKE public key,
//! which only a person who already holds the DEK can do; a revoke deletes
//! that wrap (with `secure_delete`, so its bytes leave the database file).
//!
//! Every wrap row carries a statement signed by the person who made it
//! ([`sign`], [`check`]): which document, for whom, these exact bytes, by
//! which right. A row someone added with a SQLCipher tool (a copy of
//! another person's wrap, named for himself) has none, so a `rekey` or a
//! revoke never wraps the new key to it, and `verify` reports it.

/// Who holds a key to which document: one row per person and document.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Holding {
    pub person: String,
    pub name: String,
    pub doc_id: i64,
    /// Empty when [`Holding::title_hidden`].
    pub title: String,
    /// The title is sealed from the person listing (`label.rs`).
    pub title_hidden: bool,
    pub personal_data: bool,
}

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::{Error, Result};
use crate::permission::{Action, Role, Roles};

const FORMAT: &str = "kinko-grant v1";

/// By which right a wrap was made; each names who may sign it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Right {
    /// The receiver's own wrap and the custodian's, at import.
    Receipt,
    /// A holder gave the key to someone on the roster.
    Grant,
    /// The same holders again under a new key (rekey, revoke).
    Rewrap,
    /// The officer gave a reset account back its documents.
    Recover,
    /// The officer vouched for a schema-2 wrap the trail shows.
    Upgrade,
}

impl Right {
    fn as_str(self) -> &'static str {
        match self {
            Right::Receipt => "receipt",
            Right::Grant => "grant",
            Right::Rewrap => "rewrap",
            Right::Recover => "recover",
            Right::Upgrade => "upgrade",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Right::Receipt,
            Right::Grant,
            Right::Rewrap,
            Right::Recover,
            Right::Upgrade,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    /// May someone certified with `roles` make a wrap by this right?
    fn entitled(self, roles: &Roles) -> bool {
        match self {
            Right::Receipt => roles.allow(Action::DocumentImport),
            Right::Grant => roles.allow(Action::Grant),
            Right::Rewrap => roles.allow(Action::Rekey) || roles.allow(Action::Revoke),
            Right::Recover => roles.allow(Action::AccountRecover),
            Right::Upgrade => roles.has(Role::Officer),
        }
    }
}

/// What a wrap's statement says, as signed (compact JSON of this struct).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantBody {
    format: String,
    vault_id: String,
    /// Hex of the document's uid (a new one after each re-encryption).
    document: String,
    holder: String,
    /// Hex SHA-256 of the wrap's enc || ciphertext.
    wrap_sha256: String,
    right: String,
    signer: String,
    /// The signer's certificate.
    signer_serial: i64,
    at: String,
}

fn message(bytes: &[u8]) -> Vec<u8> {
    [b"kinko grant v1\0".as_slice(), bytes].concat()
}

fn wrap_digest(enc: &[u8], ciphertext: &[u8]) -> String {
    crypto::hex(&crypto::sha256(&[enc, ciphertext].concat()))
}

/// Who signs a statement: a certified person with their signing key.
pub struct Signer<'a> {
    pub vault_id: &'a str,
    pub account: &'a str,
    pub serial: i64,
    pub secret: &'a [u8; 32],
}

/// One wrap row as stored.
pub(crate) struct WrapRow<'a> {
    pub uid: &'a [u8; 16],
    pub holder: &'a str,
    pub enc: &'a [u8],
    pub ciphertext: &'a [u8],
}

/// The statement and signature for a new wrap.
pub(crate) fn sign(signer: &Signer, wrap: &WrapRow, right: Right) -> Result<(Vec<u8>, Vec<u8>)> {
    let body = GrantBody {
        format: FORMAT.into(),
        vault_id: signer.vault_id.into(),
        document: crypto::hex(wrap.uid),
        holder: wrap.holder.into(),
        wrap_sha256: wrap_digest(wrap.enc, wrap.ciphertext),
        right: right.as_str().into(),
        signer: signer.account.into(),
        signer_serial: signer.serial,
        at: crate::time::now(),
    };
    let bytes = serde_json::to_vec(&body).expect("a statement serialises");
    let signature = crypto::ecdsa_sign(signer.secret, &message(&bytes))?;
    Ok((bytes, signature))
}

/// A stored grant's bytes, with the right it names, if they are a grant
/// of this format.
pub(crate) fn parse(bytes: &[u8]) -> Option<(GrantBody, Right)> {
    let body: GrantBody = serde_json::from_slice(bytes).ok()?;
    let right = Right::parse(&body.right)?;
    (body.format == FORMAT).then_some((body, right))
}

/// A wrap row holds only if its statement is about exactly these bytes,
/// this document and this holder, and was signed under a valid
/// certificate whose roles give the right it names. Anything else was
/// added or changed outside Kinko.
pub(crate) fn check(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    wrap: &WrapRow,
    signed: (Option<Vec<u8>>, Option<Vec<u8>>),
) -> Result<()> {
    let forged = || {
        Error::tampered(format!(
            "the key wrap of document {} for {} carries no valid signed grant (added or changed outside Kinko)",
            crypto::hex(wrap.uid),
            wrap.holder
        ))
    };
    let (Some(bytes), Some(signature)) = signed else {
        return Err(forged());
    };
    let (body, right) = parse(&bytes).ok_or_else(forged)?;
    if body.vault_id != vault_id
        || body.document != crypto::hex(wrap.uid)
        || body.holder != wrap.holder
        || body.wrap_sha256 != wrap_digest(wrap.enc, wrap.ciphertext)
    {
        return Err(forged());
    }
    let cert = crate::cert::of_statement(conn, vault_id, root, body.signer_serial, &bytes)?;
    if !cert.vouches(
        &body.signer,
        |roles| right.entitled(roles),
        &message(&bytes),
        &signature,
    ) {
        return Err(forged());
    }
    Ok(())
}
