//! Documents Kinko signs for the bureau (the disposal plan and the
//! completion report), checkable by anyone with no vault
//! (`kinko verify-report`).
//!
//! Two files carry the same signature over the same content:
//! - the printable HTML, whose bytes end with one comment line
//!   `<!-- kinko-signature v1 BASE64 -->` holding the signature block;
//! - the JSON twin `{"content": …, "signature": …}` for machines.
//!
//! The block names the vault, the kind of document, the audit key's public
//! half, and the SHA-256 of the signed bytes (the HTML before the comment;
//! for the twin, the compact JSON of its content). Any changed byte of the
//! HTML, or any changed value of the twin, fails the check.

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::{Error, Result};

const MARK: &str = "<!-- kinko-signature v1 ";
const END: &str = " -->\n";

/// The signature block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub kind: String,
    pub vault_id: String,
    /// Base64 of the audit key's public half (SEC1).
    pub public_key: String,
    /// Hex SHA-256 of the signed bytes.
    pub sha256: String,
    /// Base64 ECDSA P-256 / SHA-256 signature (r || s).
    pub signature: String,
}

fn message(kind: &str, vault_id: &str, digest: &str) -> Vec<u8> {
    format!("kinko signed document v1\0{kind}\0{vault_id}\0{digest}").into_bytes()
}

impl Signature {
    fn make(
        kind: &str,
        vault_id: &str,
        secret: &[u8; 32],
        public: &[u8],
        bytes: &[u8],
    ) -> Result<Self> {
        let digest = crypto::hex(&crypto::sha256(bytes));
        let sig = crypto::ecdsa_sign(secret, &message(kind, vault_id, &digest))?;
        Ok(Signature {
            kind: kind.into(),
            vault_id: vault_id.into(),
            public_key: crypto::b64(public),
            sha256: digest,
            signature: crypto::b64(&sig),
        })
    }

    /// Does the signature hold over `bytes`?
    pub(crate) fn check(&self, bytes: &[u8]) -> Result<()> {
        let digest = crypto::hex(&crypto::sha256(bytes));
        let public = crypto::unb64(&self.public_key, "the signature's public key")?;
        let sig = crypto::unb64(&self.signature, "the signature")?;
        if digest != self.sha256
            || !crypto::ecdsa_verify(&public, &message(&self.kind, &self.vault_id, &digest), &sig)
        {
            return Err(Error::tampered(format!(
                "the {} was changed after it was signed (its signature does not verify)",
                self.kind
            )));
        }
        Ok(())
    }

    /// SHA-256 of the signing key, to compare with `kinko status`.
    pub fn key_fingerprint(&self) -> Result<String> {
        let public = crypto::unb64(&self.public_key, "the signature's public key")?;
        Ok(crypto::hex(&crypto::sha256(&public)))
    }
}

/// The vault's audit key, as kept in the database (`docs/audit.md`).
pub(crate) struct AuditKey {
    pub secret: zeroize::Zeroizing<[u8; 32]>,
    pub public: Vec<u8>,
}

impl AuditKey {
    pub fn load(conn: &rusqlite::Connection) -> Result<Self> {
        let raw = zeroize::Zeroizing::new(crate::db::meta(conn, "audit_secret")?);
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        if raw.len() != 32 {
            return Err(Error::tampered(
                "the vault's audit key has the wrong length",
            ));
        }
        secret.copy_from_slice(&raw);
        Ok(AuditKey {
            secret,
            public: crate::db::meta(conn, "audit_public")?,
        })
    }

    pub fn signer<'a>(&'a self, vault_id: &'a str) -> Signer<'a> {
        Signer {
            vault_id,
            secret: &self.secret,
            public: &self.public,
        }
    }
}

/// The signing key: the vault's audit key.
pub(crate) struct Signer<'a> {
    pub vault_id: &'a str,
    pub secret: &'a [u8; 32],
    pub public: &'a [u8],
}

impl Signer<'_> {
    /// The HTML with its signature comment appended.
    pub fn html(&self, kind: &str, html: &str) -> Result<String> {
        let sig = Signature::make(
            kind,
            self.vault_id,
            self.secret,
            self.public,
            html.as_bytes(),
        )?;
        let block = crypto::b64(&serde_json::to_vec(&sig).expect("a signature serialises"));
        Ok(format!("{html}{MARK}{block}{END}"))
    }

    /// The JSON twin of `content`.
    pub fn json<T: Serialize>(&self, kind: &str, content: &T) -> Result<String> {
        let value = serde_json::to_value(content).expect("content serialises");
        let bytes = serde_json::to_vec(&value).expect("JSON serialises");
        let sig = Signature::make(kind, self.vault_id, self.secret, self.public, &bytes)?;
        Ok(twin_text(&value, &sig))
    }
}

/// The one way a twin is written: checking re-writes it and compares
/// bytes, so any change at all (a value, a duplicate key, a space) fails.
fn twin_text(content: &serde_json::Value, sig: &Signature) -> String {
    let file = serde_json::json!({ "content": content, "signature": sig });
    serde_json::to_string_pretty(&file).expect("JSON serialises") + "\n"
}

/// What a checked file says.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub kind: String,
    pub vault_id: String,
    pub key_fingerprint: String,
    /// The twin's content (None for HTML).
    pub content: Option<serde_json::Value>,
}

/// Check a signed HTML page or JSON twin. The signature proves the file
/// is as the holder of the key it carries wrote it; give `key` (the
/// vault's audit key fingerprint, from `kinko status` or from the signed
/// plan the bureau approved) to prove whose key that is.
pub fn check(bytes: &[u8], key: Option<&str>) -> Result<Checked> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::tampered("the file is not UTF-8 text as Kinko writes it"))?;
    let checked = if text.trim_start().starts_with('{') {
        check_json(text)?
    } else {
        check_html(text)?
    };
    if let Some(expected) = key {
        if !expected
            .trim()
            .eq_ignore_ascii_case(&checked.key_fingerprint)
        {
            return Err(Error::tampered(format!(
                "the file was signed with key {}, not with {}",
                checked.key_fingerprint,
                expected.trim()
            )));
        }
    }
    Ok(checked)
}

fn check_html(text: &str) -> Result<Checked> {
    let at = text
        .rfind(MARK)
        .ok_or_else(|| Error::invalid("the file carries no Kinko signature"))?;
    let (body, tail) = text.split_at(at);
    let block = tail[MARK.len()..]
        .strip_suffix(END)
        .ok_or_else(|| Error::tampered("the signature line was changed"))?;
    let sig: Signature = crypto::unb64(block, "the signature block")
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| Error::tampered("the signature block was changed"))?;
    sig.check(body.as_bytes())?;
    Ok(Checked {
        kind: sig.kind.clone(),
        vault_id: sig.vault_id.clone(),
        key_fingerprint: sig.key_fingerprint()?,
        content: None,
    })
}

fn check_json(text: &str) -> Result<Checked> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Twin {
        content: serde_json::Value,
        signature: Signature,
    }
    let twin: Twin = serde_json::from_str(text).map_err(|_| {
        Error::tampered(
            "the file is not a signed Kinko document (it was changed or is another file)",
        )
    })?;
    if twin_text(&twin.content, &twin.signature) != text {
        return Err(Error::tampered(
            "the file was changed after it was signed (it is not as Kinko wrote it)",
        ));
    }
    let bytes = serde_json::to_vec(&twin.content).expect("JSON serialises");
    twin.signature.check(&bytes)?;
    Ok(Checked {
        kind: twin.signature.kind.clone(),
        vault_id: twin.signature.vault_id.clone(),
        key_fingerprint: twin.signature.key_fingerprint()?,
        content: Some(twin.content),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer_parts() -> (crypto::SigningKeyPair, String) {
        (crypto::SigningKeyPair::generate(), "v1".into())
    }

    #[test]
    fn every_changed_byte_of_the_html_fails() {
        let (key, vault) = signer_parts();
        let signer = Signer {
            vault_id: &vault,
            secret: &key.secret,
            public: &key.public,
        };
        let page = signer
            .html("completion report", "<p>令和8年1月5日</p>\n")
            .unwrap();
        check(page.as_bytes(), None).unwrap();
        let bytes = page.as_bytes();
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] ^= 0x01;
            assert!(check(&changed, None).is_err(), "byte {i} changed unnoticed");
        }
    }

    #[test]
    fn a_changed_value_of_the_twin_fails() {
        let (key, vault) = signer_parts();
        let signer = Signer {
            vault_id: &vault,
            secret: &key.secret,
            public: &key.public,
        };
        let twin = signer
            .json(
                "completion report",
                &serde_json::json!({"completed": "2026-12-01"}),
            )
            .unwrap();
        assert!(check(twin.as_bytes(), None).unwrap().content.is_some());
        let changed = twin.replace("2026-12-01", "2026-12-02");
        assert!(matches!(
            check(changed.as_bytes(), None),
            Err(Error::Tampered(_))
        ));
        // A duplicate key that a reader might take instead of the real one.
        let duplicated = twin.replacen(
            "\"completed\"",
            "\"completed\": \"2020-01-01\",\n    \"completed\"",
            1,
        );
        assert!(matches!(
            check(duplicated.as_bytes(), None),
            Err(Error::Tampered(_))
        ));
        let key = check(twin.as_bytes(), None).unwrap().key_fingerprint;
        check(twin.as_bytes(), Some(&key)).unwrap();
        assert!(check(twin.as_bytes(), Some(&"0".repeat(64))).is_err());
    }
}
