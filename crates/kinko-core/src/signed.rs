//! Documents Kinko signs for the bureau (the disposal plan, the
//! completion report, the status report), checkable by anyone with no
//! vault (`kinko verify-report`).
//!
//! Two files carry the same signature over the same content:
//! - the printable HTML, whose bytes end with one comment line
//!   `<!-- kinko-signature v1 BASE64 -->` holding the signature block;
//! - the JSON twin `{"content": …, "signature": …}` for machines.
//!
//! The block names the vault, the kind of document, who signed it (the
//! person who made it, with their own certified signing key: the
//! officer's, whose key fingerprint the bureau registers from the first
//! plan it approves), that key's public half, and the SHA-256 of the
//! signed bytes (the HTML before the comment; for the twin, the compact
//! JSON of its content). Any changed byte of the HTML, or any changed
//! value of the twin, fails the check. Files made before schema 3 were
//! signed with the vault's audit key and name no signer; they still
//! check.

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
    /// The account of the person who signed (none before schema 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Their name, as their certificate gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_name: Option<String>,
    /// Base64 of the audit key's public half (SEC1).
    pub public_key: String,
    /// Hex SHA-256 of the signed bytes.
    pub sha256: String,
    /// Base64 ECDSA P-256 / SHA-256 signature (r || s).
    pub signature: String,
}

impl Signature {
    /// What is signed: the kind, the vault, who signed (from schema 3),
    /// and the digest.
    fn message(&self, digest: &str) -> Vec<u8> {
        let (kind, vault_id) = (&self.kind, &self.vault_id);
        match (&self.signer, &self.signer_name) {
            (Some(account), Some(name)) => {
                format!("kinko signed document v2\0{kind}\0{vault_id}\0{account}\0{name}\0{digest}")
            }
            _ => format!("kinko signed document v1\0{kind}\0{vault_id}\0{digest}"),
        }
        .into_bytes()
    }

    fn make(kind: &str, signer: &Signer, bytes: &[u8]) -> Result<Self> {
        let mut sig = Signature {
            kind: kind.into(),
            vault_id: signer.vault_id.into(),
            signer: Some(signer.account.into()),
            signer_name: Some(signer.name.into()),
            public_key: crypto::b64(&signer.public),
            sha256: crypto::hex(&crypto::sha256(bytes)),
            signature: String::new(),
        };
        let signature = crypto::ecdsa_sign(signer.secret, &sig.message(&sig.sha256))?;
        sig.signature = crypto::b64(&signature);
        Ok(sig)
    }

    /// Does the signature hold over `bytes`?
    pub(crate) fn check(&self, bytes: &[u8]) -> Result<()> {
        let digest = crypto::hex(&crypto::sha256(bytes));
        let public = crypto::unb64(&self.public_key, "the signature's public key")?;
        let sig = crypto::unb64(&self.signature, "the signature")?;
        if digest != self.sha256 || !crypto::ecdsa_verify(&public, &self.message(&digest), &sig) {
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

/// Who signs a document: the person making it, with the signing key
/// their certificate names.
pub struct Signer<'a> {
    pub vault_id: &'a str,
    pub account: &'a str,
    pub name: &'a str,
    pub secret: &'a [u8; 32],
    pub public: Vec<u8>,
}

impl<'a> Signer<'a> {
    /// The person acting in `ctx`; only a certified person signs.
    pub(crate) fn of(ctx: &'a crate::actor::Ctx) -> Result<Self> {
        let certified = ctx.signer()?;
        Self::with_key(
            certified.vault_id,
            certified.account,
            &ctx.actor.name,
            certified.secret,
        )
    }

    /// Anyone holding a signing key (our formats are published: the
    /// attack tests forge with this as an insider would).
    pub fn with_key(
        vault_id: &'a str,
        account: &'a str,
        name: &'a str,
        secret: &'a [u8; 32],
    ) -> Result<Self> {
        Ok(Signer {
            vault_id,
            account,
            name,
            secret,
            public: crypto::SigningKeyPair::public_of(secret)?,
        })
    }
}

impl Signer<'_> {
    /// The HTML with its signature comment appended.
    pub fn html(&self, kind: &str, html: &str) -> Result<String> {
        let sig = Signature::make(kind, self, html.as_bytes())?;
        let block = crypto::b64(&serde_json::to_vec(&sig).expect("a signature serialises"));
        Ok(format!("{html}{MARK}{block}{END}"))
    }

    /// The JSON twin of `content`.
    pub fn json<T: Serialize>(&self, kind: &str, content: &T) -> Result<String> {
        let value = serde_json::to_value(content).expect("content serialises");
        let bytes = serde_json::to_vec(&value).expect("JSON serialises");
        let sig = Signature::make(kind, self, &bytes)?;
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
    /// Who signed (account and name), for files made from schema 3 on.
    pub signer: Option<String>,
    pub signer_name: Option<String>,
    pub key_fingerprint: String,
    /// The twin's content (None for HTML).
    pub content: Option<serde_json::Value>,
}

/// Check a signed HTML page or JSON twin. The signature proves the file
/// is as the holder of the key it carries wrote it; give `key` (the
/// signer's key fingerprint: the officer's, from their `kinko status` or
/// from the signed plan the bureau approved) to prove whose key that is.
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

/// The part of a signed HTML page the signature covers (everything
/// before the signature line), if it carries one.
pub(crate) fn html_body(text: &str) -> Option<&str> {
    text.rfind(MARK).map(|at| &text[..at])
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
        signer: sig.signer.clone(),
        signer_name: sig.signer_name.clone(),
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
        signer: twin.signature.signer.clone(),
        signer_name: twin.signature.signer_name.clone(),
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
            account: "boss",
            name: "管理 太郎",
            secret: &key.secret,
            public: key.public.clone(),
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
    fn the_signer_is_signed_and_older_files_still_check() {
        let (key, vault) = signer_parts();
        let signer = Signer::with_key(&vault, "boss", "管理 太郎", &key.secret).unwrap();
        let page = signer.html("status report", "<p>x</p>\n").unwrap();
        let checked = check(page.as_bytes(), None).unwrap();
        assert_eq!(checked.signer.as_deref(), Some("boss"));
        assert_eq!(checked.signer_name.as_deref(), Some("管理 太郎"));
        // Another name in the block: the signature no longer holds.
        let at = page.rfind(MARK).unwrap();
        let block = page[at + MARK.len()..].strip_suffix(END).unwrap();
        let mut sig: Signature =
            serde_json::from_slice(&crypto::unb64(block, "block").unwrap()).unwrap();
        sig.signer_name = Some("別人".into());
        let renamed = format!(
            "{}{MARK}{}{END}",
            &page[..at],
            crypto::b64(&serde_json::to_vec(&sig).unwrap())
        );
        assert!(matches!(
            check(renamed.as_bytes(), None),
            Err(Error::Tampered(_))
        ));
        // A file signed before schema 3 (no signer, the v1 message).
        let mut old = Signature {
            signer: None,
            signer_name: None,
            signature: String::new(),
            ..sig
        };
        let body = &page[..at];
        old.sha256 = crypto::hex(&crypto::sha256(body.as_bytes()));
        old.signature =
            crypto::b64(&crypto::ecdsa_sign(&key.secret, &old.message(&old.sha256)).unwrap());
        let v1 = format!(
            "{body}{MARK}{}{END}",
            crypto::b64(&serde_json::to_vec(&old).unwrap())
        );
        assert!(check(v1.as_bytes(), None).unwrap().signer.is_none());
    }

    #[test]
    fn a_changed_value_of_the_twin_fails() {
        let (key, vault) = signer_parts();
        let signer = Signer {
            vault_id: &vault,
            account: "boss",
            name: "管理 太郎",
            secret: &key.secret,
            public: key.public.clone(),
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
