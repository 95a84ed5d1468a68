//! A document's label (issue 15): its title, file name, origin, the way it
//! came and its purpose. Titles and file names name people ("山田太郎様
//! 離職票.pdf"), so the label is personal data and is never stored in the
//! clear: it is sealed twice,
//!
//! - `label_held`: under a key derived from the document's data key, so
//!   exactly the people who hold the document (and the custodian) read it;
//! - `label_catalogue`: to the catalogue circle (`circle.rs`), so the
//!   officer reads every label, as disposal, export approvals and the
//!   return package need.
//!
//! Whoever else lists documents (a manager who does not hold one) sees its
//! number, size and dates, and that its label is hidden.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::circle::{self, Circle, CircleKey};
use crate::crypto;
use crate::error::{Error, Result};

/// What a receipt says about a document besides numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Label {
    pub title: String,
    pub file_name: String,
    pub origin: String,
    pub via: String,
    pub purpose: String,
}

impl Label {
    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(self).expect("a label serialises"))
    }

    fn from_bytes(doc: i64, bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|_| Error::tampered(format!("the label of document {doc} is damaged")))
    }
}

fn what(doc: i64) -> String {
    format!("the label of document {doc}")
}

/// The key the holders' copy is sealed under: from the document's data
/// key, for this vault, document and data-key generation (`uid`).
fn held_key(vault_id: &str, doc: i64, uid: &[u8; 16], dek: &[u8; 32]) -> crypto::Key32 {
    crypto::hkdf(
        dek,
        b"kinko label v1",
        &[
            vault_id.as_bytes(),
            b"\0",
            doc.to_string().as_bytes(),
            b"\0",
            uid,
        ],
    )
}

fn held_aad(vault_id: &str, doc: i64) -> Vec<u8> {
    format!("kinko label v1\0{vault_id}\0{doc}").into_bytes()
}

/// Where a document's data key is, for sealing or opening its label.
pub(crate) struct DocKey<'a> {
    pub vault_id: &'a str,
    pub doc: i64,
    pub uid: &'a [u8; 16],
    pub dek: &'a [u8; 32],
}

impl DocKey<'_> {
    fn seal(&self, label: &Label) -> Vec<u8> {
        crypto::seal(
            &held_key(self.vault_id, self.doc, self.uid, self.dek),
            &held_aad(self.vault_id, self.doc),
            &label.to_bytes(),
        )
    }

    fn open(&self, sealed: &[u8]) -> Result<Label> {
        let bytes = crypto::open(
            &held_key(self.vault_id, self.doc, self.uid, self.dek),
            &held_aad(self.vault_id, self.doc),
            sealed,
        )
        .ok_or_else(|| {
            Error::tampered(format!(
                "{} does not open with its data key (changed outside Kinko)",
                what(self.doc)
            ))
        })?;
        Label::from_bytes(self.doc, &bytes)
    }
}

/// Who vouches for the catalogue's copy of a label: anyone may seal to a
/// circle, so the copy the officer reads must carry a signature.
#[derive(Clone, Copy)]
pub(crate) enum Voucher {
    /// The receiver, at the receipt.
    Receiver,
    /// The officer, sealing at the upgrade what was in the clear.
    CarriedOver,
}

impl Voucher {
    fn kind(self) -> &'static str {
        match self {
            Voucher::Receiver => "label",
            Voucher::CarriedOver => "label carried over",
        }
    }
}

fn label_says(doc: i64, sealed: &[u8]) -> serde_json::Value {
    serde_json::json!({ "document": doc, "catalogue_sha256": crypto::hex(&crypto::sha256(sealed)) })
}

/// Seal and store a new document's label, both copies, the catalogue's
/// signed by `signer` as `voucher`.
pub(crate) fn store(
    tx: &Connection,
    catalogue: &circle::CirclePublic,
    key: &DocKey,
    label: &Label,
    (signer, voucher): (&crate::grant::Signer, Voucher),
) -> Result<()> {
    let for_officer = catalogue.seal(&what(key.doc), &label.to_bytes())?;
    let s = crate::statement::sign(signer, voucher.kind(), label_says(key.doc, &for_officer))?;
    tx.execute(
        "UPDATE documents SET label_held = ?2, label_catalogue = ?3, label_statement = ?4, label_signature = ?5 WHERE id = ?1",
        params![key.doc, key.seal(label), for_officer, s.bytes, s.signature],
    )?;
    Ok(())
}

/// The catalogue's copy must be the one its receiver signed (or the
/// officer, for a label sealed at the upgrade): one sealed by someone else
/// (a made-up title for the officer to read) is tampering.
fn check_catalogue_copy(
    tx: &Connection,
    ctx: &crate::actor::Ctx,
    doc: i64,
    sealed: &[u8],
) -> Result<()> {
    type Row = (String, Option<Vec<u8>>, Option<Vec<u8>>);
    let (received_by, statement, signature): Row = tx.query_row(
        "SELECT received_by, label_statement, label_signature FROM documents WHERE id = ?1",
        [doc],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let what = what(doc);
    let claim = |voucher: Voucher| crate::statement::Claim {
        kind: voucher.kind(),
        says: label_says(doc, sealed),
        needs: match voucher {
            Voucher::Receiver => crate::permission::Action::DocumentImport,
            Voucher::CarriedOver => crate::permission::Action::AccountCertify,
        },
        what: &what,
        by: match voucher {
            Voucher::Receiver => Some(received_by.as_str()),
            Voucher::CarriedOver => None,
        },
    };
    let signed = || (statement.clone(), signature.clone());
    ctx.check_statement(tx, &claim(Voucher::Receiver), signed())
        .or_else(|_| ctx.check_statement(tx, &claim(Voucher::CarriedOver), signed()))
}

/// Document `doc` moved from data key `old` (`uid`, DEK) to `new`: seal
/// the holders' copy again under the new one.
pub(crate) fn follow_new_key(
    tx: &Connection,
    vault_id: &str,
    doc: &crate::document::DocRow,
    old: &[u8; 32],
    (uid, new): (&[u8; 16], &[u8; 32]),
) -> Result<()> {
    let key = |uid, dek| DocKey {
        vault_id,
        doc: doc.id,
        uid,
        dek,
    };
    reseal_held(tx, &key(&doc.uid, old), &key(uid, new))
}

/// The document moved to a new data key: seal the holders' copy again.
fn reseal_held(tx: &Connection, old: &DocKey, new: &DocKey) -> Result<()> {
    let label = open_held(tx, old)?;
    tx.execute(
        "UPDATE documents SET label_held = ?2 WHERE id = ?1",
        params![new.doc, new.seal(&label)],
    )?;
    Ok(())
}

/// The label as its holders read it.
pub(crate) fn open_held(tx: &Connection, key: &DocKey) -> Result<Label> {
    let sealed = sealed_copy(tx, key.doc, "label_held")?;
    key.open(&sealed)
}

fn sealed_copy(tx: &Connection, doc: i64, column: &str) -> Result<Vec<u8>> {
    let sql = format!("SELECT {column} FROM documents WHERE id = ?1");
    tx.query_row(&sql, [doc], |r| r.get::<_, Option<Vec<u8>>>(0))
        .optional()?
        .flatten()
        .ok_or_else(|| Error::tampered(format!("{} is missing", what(doc))))
}

/// The catalogue's copy, checked against its signature and opened by a
/// member (the officer).
fn open_catalogue(
    tx: &Connection,
    ctx: &crate::actor::Ctx,
    key: &CircleKey,
    doc: i64,
) -> Result<Label> {
    let sealed = sealed_copy(tx, doc, "label_catalogue")?;
    check_catalogue_copy(tx, ctx, doc, &sealed)?;
    let bytes = key.open(&what(doc), &sealed)?;
    Label::from_bytes(doc, &bytes)
}

/// Put `label` (if this person may read it) into a listed document.
pub(crate) fn show(info: &mut crate::document::DocumentInfo, label: Option<Label>) {
    match label {
        Some(l) => {
            info.title = l.title;
            info.file_name = l.file_name;
            info.origin = l.origin;
            info.via = l.via;
            info.purpose = l.purpose;
            info.label_hidden = false;
        }
        None => info.label_hidden = true,
    }
}

/// Reads labels as the acting person may: every one through the
/// catalogue for its members, otherwise those of documents they hold.
pub(crate) struct Reader {
    catalogue: Option<CircleKey>,
}

impl Reader {
    pub(crate) fn new(tx: &Connection, ctx: &crate::actor::Ctx) -> Result<Self> {
        // A vault disposed of at the contract's end has destroyed the
        // circle keys with its documents: nothing is left to label.
        let disposed = crate::db::meta(tx, "state")? == b"disposed";
        let catalogue = if Circle::Catalogue.admits(&ctx.actor.roles) && !disposed {
            Some(circle::open(tx, ctx, Circle::Catalogue)?)
        } else {
            None
        };
        Ok(Reader { catalogue })
    }

    /// Document `doc`'s label, or `None` if this person may not read it.
    pub(crate) fn read(
        &self,
        tx: &rusqlite::Transaction,
        ctx: &crate::actor::Ctx,
        doc: i64,
    ) -> Result<Option<Label>> {
        let erased: Option<bool> = tx
            .query_row(
                "SELECT erased_at IS NOT NULL FROM documents WHERE id = ?1",
                [doc],
                |r| r.get(0),
            )
            .optional()?;
        if erased != Some(false) {
            // Disposed of (its label went with its keys) or no such document.
            return Ok(None);
        }
        if let Some(catalogue) = &self.catalogue {
            return open_catalogue(tx, ctx, catalogue, doc).map(Some);
        }
        let row = crate::document::load_doc(tx, doc)?;
        match crate::document::unwrap_dek(
            tx,
            &ctx.vault_id,
            &row,
            &ctx.actor.id,
            &ctx.secrets.hpke_secret,
        )? {
            Some(dek) => open_held(
                tx,
                &DocKey {
                    vault_id: &ctx.vault_id,
                    doc,
                    uid: &row.uid,
                    dek: &dek,
                },
            )
            .map(Some),
            None => Ok(None),
        }
    }
}
