//! Writing the return package (E5, D5) for a plan that returns its items:
//! each document's key comes from the officer's own grant, or from the
//! custodian's copy opened with the recovery code.

use rusqlite::Transaction;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::actor::Ctx;
use crate::crypto::{self, stream};
use crate::db::meta;
use crate::document::{load_wrap, CUSTODIAN};
use crate::error::{Error, Result};
use crate::package::{self, ManifestFile, Source};

/// What `kinko return` made.
#[derive(Debug, Clone, Serialize)]
pub struct ReturnReceipt {
    pub plan: i64,
    pub files: usize,
    pub package_sha256: String,
    pub protection: String,
}

pub(crate) fn custodian_secret(
    tx: &Transaction,
    code: Option<&str>,
) -> Result<Option<Zeroizing<[u8; 32]>>> {
    let Some(code) = code else {
        return Ok(None);
    };
    let secret = crate::vault::parse_recovery_code(code)?;
    if crypto::HpkeKeyPair::public_of(&secret)? != meta(tx, "custodian_public")? {
        return Err(Error::denied(
            "that recovery code does not belong to this vault",
        ));
    }
    Ok(Some(secret))
}

/// One document: its manifest entry and a reader that decrypts it.
pub(crate) fn source(
    tx: &Transaction,
    ctx: &Ctx,
    id: i64,
    custodian: Option<&[u8; 32]>,
) -> Result<Source> {
    let doc = crate::document::load_doc(tx, id)?;
    let size: i64 = tx.query_row("SELECT size FROM documents WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    let (holder, secret): (&str, &[u8; 32]) = match (load_wrap(tx, id, &ctx.actor.id)?, custodian) {
        (Some(_), _) => (&ctx.actor.id, &ctx.secrets.hpke_secret),
        (None, Some(c)) => (CUSTODIAN, c),
        (None, None) => {
            return Err(Error::denied(format!(
                "document {id} was not granted to you: give the recovery code ($KINKO_RECOVERY_CODE) to return it"
            )))
        }
    };
    let dek = crate::document::unwrap_dek(tx, &ctx.vault_id, &doc, holder, secret)?
        .ok_or_else(|| Error::tampered(format!("document {id} has no custodian key")))?;
    let crate::label::Label {
        title, file_name, ..
    } = crate::label::open_held(
        tx,
        &crate::label::DocKey {
            vault_id: &ctx.vault_id,
            doc: id,
            uid: &doc.uid,
            dek: &dek,
        },
    )?;
    let path = ctx.object_to_read(&doc.object_name)?;
    let (uid, version) = (doc.uid, doc.version);
    let file = ManifestFile {
        document: id,
        name: file_name,
        title,
        size: size as u64,
        sha256: doc.sha256.clone(),
        uid: crypto::hex(&crypto::random::<16>()),
    };
    Ok(Source {
        file,
        write: Box::new(move |out| {
            let mut f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            stream::decrypt(&dek, uid, version, &mut f, &mut &mut *out)
                .map(drop)
                .map_err(|e| package::stream_error(e, &path.display().to_string()))
        }),
    })
}
