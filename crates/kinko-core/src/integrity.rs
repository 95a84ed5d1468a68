//! The on-demand integrity check of the whole vault (D7, `kinko verify`):
//! the database's page HMACs, the audit chain, and every object file
//! against the SHA-256 of its ciphertext recorded at import. None of this
//! needs a document key, so the system administrator can run it; with
//! `deep`, documents the person holds are also decrypted end to end.

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;

use crate::audit;
use crate::crypto::{self, stream};
use crate::document::{load_doc, load_wrap, unwrap_own_dek};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::permission::Action;
use crate::session::{Done, Session};

/// One damaged item.
#[derive(Debug, Clone, Serialize)]
pub struct Damage {
    pub item: String,
    pub problem: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub documents_checked: u64,
    pub documents_decrypted: u64,
    pub audit_events_checked: u64,
    pub damaged: Vec<Damage>,
    /// Files no record refers to: left by an import or session that was
    /// interrupted. No stored key opens them; they are not damage.
    pub leftovers: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.damaged.is_empty()
    }
}

impl Session {
    /// Check every object and the database; damage is listed item by item.
    pub fn verify(&mut self, deep: bool) -> Result<VerifyReport> {
        self.perform(Action::VaultVerify, "vault", |tx, ctx| {
            let mut report = VerifyReport {
                documents_checked: 0,
                documents_decrypted: 0,
                audit_events_checked: 0,
                damaged: Vec::new(),
                leftovers: Vec::new(),
            };
            let db_problems: Vec<String> = tx
                .prepare("PRAGMA cipher_integrity_check")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            for p in db_problems {
                report.damaged.push(Damage {
                    item: "database".into(),
                    problem: p,
                });
            }
            let quick: String = tx.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if quick != "ok" {
                report.damaged.push(Damage {
                    item: "database".into(),
                    problem: quick,
                });
            }
            match audit::verify::verify_trail(tx, &ctx.vault_id, None) {
                Ok(t) => report.audit_events_checked = t.events,
                Err(e) => report.damaged.push(Damage {
                    item: "audit trail".into(),
                    problem: e.to_string(),
                }),
            }
            let ids: Vec<i64> = tx
                .prepare("SELECT id FROM documents WHERE erased_at IS NULL ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut known = HashSet::new();
            for id in ids {
                let doc = load_doc(tx, id)?;
                known.insert(doc.object_name.clone());
                report.documents_checked += 1;
                let path = ctx.objects_dir().join(&doc.object_name);
                if let Err(problem) =
                    check_object_file(&path, &doc.object_sha256, &doc.uid, doc.version)
                {
                    report.damaged.push(Damage {
                        item: format!("document {id}"),
                        problem,
                    });
                    continue;
                }
                if deep && load_wrap(tx, id, &ctx.actor.id)?.is_some() {
                    let dek = unwrap_own_dek(tx, ctx, &doc)?;
                    let mut f = std::io::BufReader::new(
                        std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?,
                    );
                    match stream::decrypt(&dek, doc.uid, doc.version, &mut f, &mut std::io::sink())
                    {
                        Ok(d) if crypto::hex(&d.sha256) == doc.sha256 => {
                            report.documents_decrypted += 1
                        }
                        Ok(_) => report.damaged.push(Damage {
                            item: format!("document {id}"),
                            problem: "plaintext does not match its recorded SHA-256".into(),
                        }),
                        Err(_) => report.damaged.push(Damage {
                            item: format!("document {id}"),
                            problem: "does not decrypt".into(),
                        }),
                    }
                }
            }
            report.leftovers = leftovers(&ctx.objects_dir(), &known)?;
            let outcome = if report.is_intact() {
                audit::OK
            } else {
                audit::TAMPERED
            };
            let detail = format!(
                "documents={} audit_events={} damaged={}",
                report.documents_checked,
                report.audit_events_checked,
                report
                    .damaged
                    .iter()
                    .map(|d| d.item.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let mut done = Done::ok(report, detail);
            done.outcome = outcome;
            Ok(done)
        })
    }
}

/// Check an object file without its key: its SHA-256 and its header.
fn check_object_file(
    path: &std::path::Path,
    expected_sha: &str,
    uid: &[u8; 16],
    version: u32,
) -> std::result::Result<(), String> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("its object file is missing".into())
        }
        Err(e) => return Err(format!("its object file cannot be read: {e}")),
    };
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let mut header = Vec::with_capacity(stream::HEADER_LEN);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("its object file cannot be read: {e}"))?;
        if n == 0 {
            break;
        }
        if header.len() < stream::HEADER_LEN {
            let take = (stream::HEADER_LEN - header.len()).min(n);
            header.extend_from_slice(&buf[..take]);
        }
        sha2::Digest::update(&mut hasher, &buf[..n]);
    }
    let header: [u8; stream::HEADER_LEN] = header
        .try_into()
        .map_err(|_| "its object file is truncated inside the header".to_string())?;
    let h = stream::parse_header(&header).map_err(|e| e.to_string())?;
    if h.uid != *uid || h.version != version {
        return Err("its object file belongs to another document".into());
    }
    if crypto::hex(&sha2::Digest::finalize(hasher)) != expected_sha {
        return Err(
            "its object file was changed (SHA-256 differs from the one recorded at import)".into(),
        );
    }
    Ok(())
}

/// Remove every file in `objects/` that no live document names: objects
/// of an import, a re-encryption or a disposal that was killed midway.
/// Only safe while no other process can be writing one (the vault held
/// alone by `rekey`, or a whole-vault disposal).
pub(crate) fn remove_leftovers(
    conn: &rusqlite::Connection,
    objects: &std::path::Path,
) -> Result<usize> {
    let known: HashSet<String> = conn
        .prepare("SELECT object_name FROM documents WHERE erased_at IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let gone = leftovers(objects, &known)?;
    for name in &gone {
        fsutil::remove_overwritten(&objects.join(name))?;
    }
    Ok(gone.len())
}

fn leftovers(dir: &std::path::Path, known: &HashSet<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !known.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
