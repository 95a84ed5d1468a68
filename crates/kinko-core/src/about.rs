//! What this build of Kinko uses, for `kinko about` and the app's About
//! screen (I4, D6): every algorithm with the id it carries in the formats,
//! and whether it is on the CRYPTREC e-Government Recommended Ciphers List.
//! The dependency inventory itself is the CycloneDX SBOM that each shell
//! embeds (`sbom/`).

use serde::Serialize;

use crate::crypto::stream;
use crate::error::{Error, Result};

/// One algorithm in use.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Algorithm {
    /// What it protects.
    pub purpose: &'static str,
    pub algorithm: String,
    /// The id stored in the formats, where there is one.
    pub id: &'static str,
    /// On the CRYPTREC e-Government Recommended Ciphers List.
    pub cryptrec: bool,
}

/// Every algorithm this build uses, in the order a reader meets them.
pub fn algorithms() -> Vec<Algorithm> {
    let a = |purpose, algorithm: &str, id, cryptrec| Algorithm {
        purpose,
        algorithm: algorithm.to_string(),
        id,
        cryptrec,
    };
    vec![
        a(
            "document contents (object files, backups), suite 1",
            stream::suite_name(stream::SUITE_AES256GCM),
            "suite 1",
            true,
        ),
        a(
            "document contents, suite 2 (`rekey --suite 2`)",
            stream::suite_name(stream::SUITE_CAMELLIA256GCM),
            "suite 2",
            true,
        ),
        a(
            "document keys to people, the custodian and the inbox",
            "HPKE RFC 9180: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM",
            "kinko dek v1",
            true,
        ),
        a(
            "audit checkpoints, signed plans and reports",
            "ECDSA P-256 with SHA-256",
            "kinko signed document v1",
            true,
        ),
        a(
            "audit trail",
            "RFC 6962 Merkle tree over SHA-256",
            "kinko-audit-checkpoint",
            true,
        ),
        a(
            "password keys (default profile)",
            "Argon2id m=64 MiB t=3 p=4",
            "argon2id",
            false,
        ),
        a(
            "password keys (all-CRYPTREC profile, `init --kdf pbkdf2`)",
            "PBKDF2-HMAC-SHA-256, 600,000 iterations",
            "pbkdf2-sha256",
            true,
        ),
        a(
            "keyslots, sessions",
            "AES-256-GCM, 96-bit random nonce",
            "aes-256-gcm",
            true,
        ),
        a(
            "database (pages, journal, WAL)",
            "SQLCipher 4: AES-256-CBC with HMAC-SHA-512 per page, raw 256-bit key",
            "sqlcipher 4",
            true,
        ),
        a(
            "return packages by passphrase",
            "Argon2id, then AES-256-GCM stream (suite 1)",
            "kinko-package",
            false,
        ),
        a(
            "one-time sign-in codes",
            "TOTP RFC 6238 (HMAC-SHA-1, 6 digits, 30 s), as authenticator apps expect",
            "totp",
            false,
        ),
    ]
}

/// One dependency as the inventory shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Component {
    pub name: String,
    pub version: String,
    pub license: String,
}

/// What a shell shows about itself: version, network stance, algorithms
/// and the dependency inventory read from its embedded CycloneDX SBOM.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct About {
    pub program: String,
    pub version: String,
    pub network: &'static str,
    pub algorithms: Vec<Algorithm>,
    pub sbom_format: String,
    pub components: Vec<Component>,
}

impl About {
    /// `sbom` is the program's CycloneDX JSON, embedded when it was built.
    pub fn new(program: &str, version: &str, sbom: &str) -> Result<About> {
        let bom: serde_json::Value = serde_json::from_str(sbom)
            .map_err(|_| Error::tampered("the embedded SBOM is not JSON"))?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let license = |c: &serde_json::Value| {
            let first = &c["licenses"][0];
            let expr = text(&first["expression"]);
            if expr.is_empty() {
                text(&first["license"]["id"])
            } else {
                expr
            }
        };
        let components = bom["components"]
            .as_array()
            .ok_or_else(|| Error::tampered("the embedded SBOM lists no components"))?
            .iter()
            .map(|c| Component {
                name: text(&c["name"]),
                version: text(&c["version"]),
                license: license(c),
            })
            .collect();
        Ok(About {
            program: program.into(),
            version: version.into(),
            network: "none: Kinko opens no network connection",
            algorithms: algorithms(),
            sbom_format: format!("CycloneDX {}", text(&bom["specVersion"])),
            components,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every content suite the stream format accepts is listed.
    #[test]
    fn every_suite_is_listed() {
        let listed = algorithms();
        for suite in stream::SUITES {
            let name = stream::suite_name(suite);
            assert!(listed.iter().any(|a| a.algorithm == name), "{name}");
        }
    }
}
