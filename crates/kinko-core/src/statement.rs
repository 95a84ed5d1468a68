//! Statements signed by the person entitled to make them: the officer's
//! export approvals and the vault's policy (issue 14), the pattern the
//! roster and disposal approvals follow. A statement is compact JSON,
//! signed as stored, naming what it says, its kind, and the certificate
//! of its signer; whoever reads the fact checks that the statement says
//! exactly what the row says and that the signer's certified roles allow
//! the action that makes it. A fact written with a SQLCipher tool has no
//! such statement, so it is tampering wherever it is read.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::{Error, Result};
use crate::grant::Signer;
use crate::permission::Action;

const FORMAT: &str = "kinko-statement v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope {
    format: String,
    pub vault_id: String,
    pub kind: String,
    pub says: serde_json::Value,
    pub signer: String,
    pub signer_serial: i64,
    pub at: String,
}

/// What a statement's signature is over: its stored bytes, in context.
pub(crate) fn message(bytes: &[u8]) -> Vec<u8> {
    [b"kinko statement v1\0".as_slice(), bytes].concat()
}

/// A stored statement's bytes as a statement of this format, if they are.
pub(crate) fn parse(bytes: &[u8]) -> Option<Envelope> {
    serde_json::from_slice::<Envelope>(bytes)
        .ok()
        .filter(|e| e.format == FORMAT)
}

/// A signed statement as stored: its bytes and the signature over them.
pub(crate) struct Signed {
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Sign that `signer` says `says`, as a statement of `kind`.
pub(crate) fn sign(signer: &Signer, kind: &str, says: serde_json::Value) -> Result<Signed> {
    let envelope = Envelope {
        format: FORMAT.into(),
        vault_id: signer.vault_id.into(),
        kind: kind.into(),
        says,
        signer: signer.account.into(),
        signer_serial: signer.serial,
        at: crate::time::now(),
    };
    let bytes = serde_json::to_vec(&envelope).expect("a statement serialises");
    let signature = crypto::ecdsa_sign(signer.secret, &message(&bytes))?;
    Ok(Signed { bytes, signature })
}

/// What is checked: the fact as the database holds it now, the kind of
/// statement that must back it, the action whose right it needs, and how
/// to name it in the report.
pub(crate) struct Claim<'a> {
    pub kind: &'a str,
    pub says: serde_json::Value,
    pub needs: Action,
    pub what: &'a str,
    /// The one person who may have made it, when only one may (the
    /// receiver of a document).
    pub by: Option<&'a str>,
}

/// The fact holds only if a statement of its kind says exactly it, was
/// signed under a valid certificate of the person it names, and that
/// person's certified roles allow the action.
pub(crate) fn check(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    claim: &Claim,
    signed: (Option<Vec<u8>>, Option<Vec<u8>>),
) -> Result<()> {
    let forged = || {
        Error::tampered(format!(
            "{} carries no valid signature of someone entitled to make it (written outside Kinko)",
            claim.what
        ))
    };
    let (Some(bytes), Some(signature)) = signed else {
        return Err(forged());
    };
    let envelope = parse(&bytes).ok_or_else(forged)?;
    if envelope.vault_id != vault_id || envelope.kind != claim.kind || envelope.says != claim.says {
        return Err(forged());
    }
    let cert = crate::cert::of_statement(conn, vault_id, root, envelope.signer_serial, &bytes)?;
    let vouched = cert.vouches(
        &envelope.signer,
        |roles| roles.allow(claim.needs),
        &message(&bytes),
        &signature,
    );
    if claim.by.is_some_and(|by| by != envelope.signer) || !vouched {
        return Err(forged());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_says_only_what_it_was_signed_over() {
        let c = crate::db::in_memory_for_tests();
        let root = crypto::SigningKeyPair::generate();
        let officer = crypto::SigningKeyPair::generate();
        let serial = crate::cert::issue(
            &c,
            "v",
            &crate::cert::Issuer {
                name: crate::cert::ROOT,
                serial: None,
                secret: &root.secret,
            },
            &crate::cert::Subject {
                account: "boss",
                name: "boss",
                roles: "officer",
                hpke_public: b"h",
                sign_public: &officer.public,
            },
        )
        .unwrap();
        let signer = Signer {
            vault_id: "v",
            account: "boss",
            serial,
            secret: &officer.secret,
        };
        let says = serde_json::json!({"totp.required": "true"});
        let s = sign(&signer, "policy", says.clone()).unwrap();
        let claim = |says| Claim {
            kind: "policy",
            says,
            needs: Action::PolicySet,
            what: "the policy",
            by: None,
        };
        let stored = || (Some(s.bytes.clone()), Some(s.signature.clone()));
        check(&c, "v", &root.public, &claim(says), stored()).unwrap();
        let weaker = serde_json::json!({"totp.required": "false"});
        assert!(matches!(
            check(&c, "v", &root.public, &claim(weaker), stored()),
            Err(Error::Tampered(_))
        ));
        let other_kind = Claim {
            kind: "export approval",
            ..claim(serde_json::json!({"totp.required": "true"}))
        };
        assert!(check(&c, "v", &root.public, &other_kind, stored()).is_err());
        let by_someone_else = Claim {
            by: Some("hana"),
            ..claim(serde_json::json!({"totp.required": "true"}))
        };
        assert!(check(&c, "v", &root.public, &by_someone_else, stored()).is_err());
        assert!(check(
            &c,
            "v",
            &root.public,
            &claim(serde_json::json!({})),
            (None, None)
        )
        .is_err());
    }
}
