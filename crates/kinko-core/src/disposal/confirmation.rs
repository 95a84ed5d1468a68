//! The confirmer's own signature on the completion report (別添2).
//!
//! At `disposal confirm` the plan's confirmer signs, with their own
//! certified key, what their verification found: the plan and its
//! SHA-256, the day the work was complete, a digest of every item's check
//! and the audit tree at that moment (a statement of kind
//! "disposal confirmation", `statement.rs`). The report the officer signs
//! carries a *seal*: that statement, the confirmer's certificate and its
//! issuer's, and the vault's root key. `kinko verify-report` checks the
//! seal with no vault: the confirmer, not only the officer, vouched for
//! exactly what the report says, and it prints the confirmer's key
//! fingerprint.
//!
//! What the seal proves rests on the officer: the officer certifies
//! people, so an officer who certified a key of their own under the
//! confirmer's name could seal a report alone. A bureau that registers the
//! confirmer's fingerprint as well (`verify-report --confirmer-key`)
//! removes that trust.

use rusqlite::Connection;
use serde::Serialize;

use super::{Completion, ItemCheck, Seal, SealedCert};
use crate::actor::Ctx;
use crate::cert::{self, Cert};
use crate::crypto;
use crate::error::{Error, Result};
use crate::permission::Action;
use crate::statement;

/// The confirmer's statement.
pub(crate) const KIND: &str = "disposal confirmation";
/// A plan confirmed before schema 3, whose confirmation the trail shows:
/// the officer signs it at the upgrade (nobody signed confirmations then).
pub(crate) const CARRIED_OVER: &str = "disposal confirmation carried over";

/// Where a seal sits in the signed HTML (inside the part the officer
/// signs).
const HTML_MARK: &str = "<!-- kinko-confirmation v1 ";
const HTML_END: &str = " -->\n";

/// What the confirmer signs.
pub(crate) fn says(
    plan: i64,
    plan_sha256: &str,
    completed_date: &str,
    checks: &[ItemCheck],
    audit_size: u64,
    audit_root: &str,
) -> serde_json::Value {
    let checks = serde_json::to_vec(checks).expect("checks serialise");
    serde_json::json!({
        "plan": plan,
        "sha256": plan_sha256,
        "completed": completed_date,
        "checks_sha256": crypto::hex(&crypto::sha256(&checks)),
        "audit_size": audit_size,
        "audit_root": audit_root,
    })
}

/// What a completion report says, as the confirmer must have signed it.
fn says_of(c: &Completion) -> serde_json::Value {
    says(
        c.plan.plan,
        &c.plan_sha256,
        &c.completed_date.to_string(),
        &c.checks,
        c.audit.size,
        &c.audit.root,
    )
}

/// Sign and store the confirmation of `plan` (`kind`: [`KIND`] by the
/// confirmer, [`CARRIED_OVER`] by the officer at the upgrade).
pub(crate) fn sign(
    conn: &Connection,
    signer: &crate::grant::Signer,
    plan: i64,
    kind: &str,
    says: serde_json::Value,
) -> Result<()> {
    let s = statement::sign(signer, kind, says)?;
    conn.execute(
        "UPDATE disposal_plans SET confirmation_statement = ?2, confirmation_signature = ?3 WHERE id = ?1",
        rusqlite::params![plan, s.bytes, s.signature],
    )?;
    Ok(())
}

/// Who confirmed, as a checked seal says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confirmer {
    pub account: String,
    pub name: String,
    /// Hex SHA-256 of their signing key (as `signed.rs` prints the
    /// report signer's).
    pub key_fingerprint: String,
    /// Who certified that key: an officer's account, or "root".
    pub certified_by: String,
    /// Confirmed before schema 3: the officer signed the carried-over
    /// record at the upgrade, not the confirmer.
    pub carried_over: bool,
    /// What they confirmed: the plan and the audit root at confirmation
    /// (to compare with the printed report).
    pub plan: i64,
    pub audit_root: String,
}

/// What the confirmation of `plan` must say, from the plan as made (its
/// body, whose hash the bureau's approval bound), its recorded result and
/// the checkpoint made at confirmation; and whom the plan names as its
/// confirmer (the row's `confirmed_by` is not trusted: it is writable).
pub(crate) fn stored_says(
    conn: &Connection,
    vault_id: &str,
    plan: i64,
) -> Result<(serde_json::Value, String)> {
    type Row = (String, Option<String>, Option<String>, Option<i64>);
    let (body, completed, verification, size): Row = conn.query_row(
        "SELECT body, completed_date, verification, audit_size FROM disposal_plans WHERE id = ?1",
        [plan],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let unreadable = || {
        Error::tampered(format!(
            "disposal plan {plan} or its result is not readable"
        ))
    };
    let made: super::Plan = serde_json::from_str(&body).map_err(|_| unreadable())?;
    let checks: Vec<ItemCheck> = verification
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(unreadable)?;
    let size = size.unwrap_or_default() as u64;
    let audit = crate::audit::checkpoint::Checkpoint::stored(conn, vault_id, size)?
        .ok_or_else(|| Error::tampered("the checkpoint made at confirmation is missing"))?;
    let says = says(
        plan,
        &super::plan_sha256(&body),
        completed.as_deref().unwrap_or_default(),
        &checks,
        size,
        &audit.root,
    );
    Ok((says, made.confirmer.id))
}

/// The stored confirmation of a confirmed `plan`, checked against the
/// plan's row and the vault's certificates: one written by hand, moved
/// from another plan, or signed by anyone but the plan's confirmer (or,
/// carried over, an officer) is tampering. Gives the statement's parts.
pub(crate) fn check_stored(
    conn: &Connection,
    ctx: &Ctx,
    plan: i64,
) -> Result<(statement::Envelope, Vec<u8>, Vec<u8>)> {
    let (bytes, signature): (Option<Vec<u8>>, Option<Vec<u8>>) = conn.query_row(
        "SELECT confirmation_statement, confirmation_signature FROM disposal_plans WHERE id = ?1",
        [plan],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let what = format!("the confirmer's signature of disposal plan {plan}");
    let envelope = bytes
        .as_deref()
        .and_then(statement::parse)
        .ok_or_else(|| Error::tampered(format!("{what} is missing or is not a statement")))?;
    let carried = envelope.kind == CARRIED_OVER;
    let (says, confirmed_by) = stored_says(conn, &ctx.vault_id, plan)?;
    ctx.check_statement(
        conn,
        &statement::Claim {
            kind: if carried { CARRIED_OVER } else { KIND },
            says,
            // Carried over: only the officer signs at the upgrade.
            needs: if carried {
                Action::DisposalApprove
            } else {
                Action::DisposalConfirm
            },
            what: &what,
            by: (!carried).then_some(confirmed_by.as_str()),
        },
        (bytes.clone(), signature.clone()),
    )?;
    Ok((
        envelope,
        bytes.unwrap_or_default(),
        signature.unwrap_or_default(),
    ))
}

/// The checked confirmation of `plan` as the seal its report carries.
pub(crate) fn seal(conn: &Connection, ctx: &Ctx, plan: i64) -> Result<Seal> {
    let (envelope, bytes, signature) = check_stored(conn, ctx, plan)?;
    let signer = cert::by_serial(
        conn,
        &ctx.vault_id,
        &ctx.root_public,
        envelope.signer_serial,
    )?;
    let mut certificates = vec![sealed(&signer)];
    if let Some(issuer) = signer.body.issuer_serial {
        certificates.push(sealed(&cert::by_serial(
            conn,
            &ctx.vault_id,
            &ctx.root_public,
            issuer,
        )?));
    }
    Ok(Seal {
        statement: crypto::b64(&bytes),
        signature: crypto::b64(&signature),
        certificates,
        root_public: crypto::b64(&ctx.root_public),
    })
}

fn sealed(c: &Cert) -> SealedCert {
    let (body, signature) = c.stored();
    SealedCert {
        body: crypto::b64(body),
        signature: crypto::b64(signature),
    }
}

impl Seal {
    /// Check the seal with no vault: the statement is signed by the key
    /// its certificate names, the certificate chains to the root the
    /// seal carries, the signer's certified roles allow confirming (or,
    /// carried over, approving) a disposal, and, given the report's
    /// content, the statement says exactly what the report says.
    pub fn check(&self, vault_id: &str, report: Option<&Completion>) -> Result<Confirmer> {
        let forged = || Error::tampered("the confirmer's signature in the report does not hold");
        let bytes = crypto::unb64(&self.statement, "the confirmer's statement")?;
        let signature = crypto::unb64(&self.signature, "the confirmer's signature")?;
        let root = crypto::unb64(&self.root_public, "the seal's root key")?;
        let certs = self
            .certificates
            .iter()
            .map(|c| {
                Cert::parse(
                    crypto::unb64(&c.body, "a sealed certificate")?,
                    crypto::unb64(&c.signature, "a sealed certificate's signature")?,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let envelope = statement::parse(&bytes).ok_or_else(forged)?;
        let carried = match envelope.kind.as_str() {
            KIND => false,
            CARRIED_OVER => true,
            _ => return Err(forged()),
        };
        let (signer, issuer) = match certs.as_slice() {
            [signer] => (signer, None),
            [signer, issuer] => (signer, Some(issuer)),
            _ => return Err(forged()),
        };
        let needs = if carried {
            Action::DisposalApprove
        } else {
            Action::DisposalConfirm
        };
        let holds = envelope.vault_id == vault_id
            && signer.body.serial == envelope.signer_serial
            && cert::chain_holds(vault_id, &root, signer, issuer)
            && signer.vouches(
                &envelope.signer,
                |roles| roles.allow(needs),
                &statement::message(&bytes),
                &signature,
            );
        if !holds {
            return Err(forged());
        }
        if let Some(c) = report {
            let named = [&c.confirmed_by, &c.plan.confirmer.id];
            if envelope.says != says_of(c)
                || (!carried && named.iter().any(|n| **n != envelope.signer))
            {
                return Err(Error::tampered(
                    "the confirmer signed another result than the report states",
                ));
            }
        }
        Ok(Confirmer {
            account: signer.body.account.clone(),
            name: signer.body.name.clone(),
            key_fingerprint: crypto::hex(&crypto::sha256(&signer.sign_public)),
            certified_by: signer.body.issuer.clone(),
            carried_over: carried,
            plan: envelope.says["plan"].as_i64().unwrap_or_default(),
            audit_root: envelope.says["audit_root"]
                .as_str()
                .unwrap_or_default()
                .into(),
        })
    }

    /// The seal as the HTML report carries it (one comment line).
    pub(crate) fn html_line(&self) -> String {
        let block = crypto::b64(&serde_json::to_vec(self).expect("a seal serialises"));
        format!("{HTML_MARK}{block}{HTML_END}")
    }

    /// The seal in a signed HTML body, if it carries one.
    fn in_html(body: &str) -> Result<Option<Seal>> {
        let Some(at) = body.find(HTML_MARK) else {
            return Ok(None);
        };
        let rest = &body[at + HTML_MARK.len()..];
        let block = rest
            .split_once(HTML_END)
            .map(|(b, _)| b)
            .ok_or_else(|| Error::tampered("the confirmer's seal line was changed"))?;
        crypto::unb64(block, "the confirmer's seal")
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .map(Some)
            .ok_or_else(|| Error::tampered("the confirmer's seal was changed"))
    }
}

/// What `verify-report` found: the signature and, for a completion
/// report, who confirmed.
#[derive(Debug, Clone, Serialize)]
pub struct ReportCheck {
    #[serde(flatten)]
    pub signed: crate::signed::Checked,
    pub confirmer: Option<Confirmer>,
}

/// Check a signed plan or report with no vault ([`crate::signed::check`]);
/// a completion report signed from schema 3 on must also carry a seal that
/// holds (give `confirmer_key`, the confirmer's key fingerprint, to prove
/// whose key confirmed).
pub fn check_report(
    bytes: &[u8],
    key: Option<&str>,
    confirmer_key: Option<&str>,
) -> Result<ReportCheck> {
    let signed = crate::signed::check(bytes, key)?;
    let completion = signed.kind == "completion report" && signed.signer.is_some();
    let seal = match &signed.content {
        Some(content) if completion => {
            let report: Completion = serde_json::from_value(content.clone()).map_err(|_| {
                Error::tampered("the completion report's content is not as Kinko writes it")
            })?;
            report
                .confirmation
                .as_ref()
                .map(|s| s.check(&signed.vault_id, Some(&report)))
                .transpose()?
        }
        None if completion => {
            let text = std::str::from_utf8(bytes).expect("checked as UTF-8");
            let body = crate::signed::html_body(text).expect("checked as signed HTML");
            Seal::in_html(body)?
                .map(|s| s.check(&signed.vault_id, None))
                .transpose()?
        }
        _ => None,
    };
    if completion && seal.is_none() {
        return Err(Error::tampered(
            "the completion report carries no signature of its confirmer",
        ));
    }
    if let Some(expected) = confirmer_key {
        let found = seal.as_ref().map(|c| c.key_fingerprint.as_str());
        if !found.is_some_and(|f| f.eq_ignore_ascii_case(expected.trim())) {
            return Err(Error::tampered(format!(
                "the report was confirmed with key {}, not with {}",
                found.unwrap_or("(none)"),
                expected.trim()
            )));
        }
    }
    Ok(ReportCheck {
        signed,
        confirmer: seal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{Issuer, Subject};
    use crate::crypto::SigningKeyPair;

    struct Vault {
        conn: Connection,
        root: SigningKeyPair,
        officer: (SigningKeyPair, i64),
    }

    fn vault() -> Vault {
        let conn = crate::db::in_memory_for_tests();
        let root = SigningKeyPair::generate();
        let key = SigningKeyPair::generate();
        let serial = cert::issue(
            &conn,
            "v",
            &Issuer {
                name: cert::ROOT,
                serial: None,
                secret: &root.secret,
            },
            &Subject {
                account: "boss",
                name: "管理 太郎",
                roles: "officer",
                hpke_public: b"h",
                sign_public: &key.public,
            },
        )
        .unwrap();
        Vault {
            conn,
            root,
            officer: (key, serial),
        }
    }

    impl Vault {
        /// A person the officer certifies with `roles`.
        fn person(&self, account: &str, roles: &str) -> (SigningKeyPair, i64) {
            let key = SigningKeyPair::generate();
            let serial = cert::issue(
                &self.conn,
                "v",
                &Issuer {
                    name: "boss",
                    serial: Some(self.officer.1),
                    secret: &self.officer.0.secret,
                },
                &Subject {
                    account,
                    name: account,
                    roles,
                    hpke_public: b"h",
                    sign_public: &key.public,
                },
            )
            .unwrap();
            (key, serial)
        }

        /// A seal of a statement `account` signed with `key` under `serial`.
        fn seal(&self, account: &str, key: &SigningKeyPair, serial: i64, kind: &str) -> Seal {
            let signer = crate::grant::Signer {
                vault_id: "v",
                account,
                serial,
                secret: &key.secret,
            };
            let s = statement::sign(&signer, kind, serde_json::json!({"plan": 1})).unwrap();
            let mut certificates = Vec::new();
            let mut next = Some(serial);
            while let Some(n) = next {
                let c = cert::by_serial(&self.conn, "v", &self.root.public, n).unwrap();
                next = c.body.issuer_serial;
                certificates.push(sealed(&c));
            }
            Seal {
                statement: crypto::b64(&s.bytes),
                signature: crypto::b64(&s.signature),
                certificates,
                root_public: crypto::b64(&self.root.public),
            }
        }
    }

    #[test]
    fn a_seal_holds_only_as_the_confirmer_made_it() {
        let v = vault();
        let (mika, serial) = v.person("mika", "manager");
        let good = v.seal("mika", &mika, serial, KIND);
        let found = good.check("v", None).unwrap();
        assert_eq!(found.account, "mika");
        assert_eq!(found.certified_by, "boss");
        assert_eq!(
            found.key_fingerprint,
            crypto::hex(&crypto::sha256(&mika.public))
        );
        assert!(!found.carried_over);
        // Another vault; the issuer's certificate left out; another root.
        assert!(matches!(good.check("w", None), Err(Error::Tampered(_))));
        let alone = Seal {
            certificates: good.certificates[..1].to_vec(),
            ..good.clone()
        };
        assert!(matches!(alone.check("v", None), Err(Error::Tampered(_))));
        let other_root = Seal {
            root_public: crypto::b64(&SigningKeyPair::generate().public),
            ..good.clone()
        };
        assert!(matches!(
            other_root.check("v", None),
            Err(Error::Tampered(_))
        ));
        // One changed byte of the statement.
        let mut bytes = crypto::unb64(&good.statement, "s").unwrap();
        let at = bytes.len() - 3;
        bytes[at] ^= 1;
        let changed = Seal {
            statement: crypto::b64(&bytes),
            ..good.clone()
        };
        assert!(changed.check("v", None).is_err());
        // Another kind of statement by the same person.
        let receipt = v.seal("mika", &mika, serial, "receipt");
        assert!(matches!(receipt.check("v", None), Err(Error::Tampered(_))));
        // A handler may not confirm; nor may anyone carry a confirmation
        // over but the officer.
        let (hana, hana_serial) = v.person("hana", "handler");
        assert!(v
            .seal("hana", &hana, hana_serial, KIND)
            .check("v", None)
            .is_err());
        assert!(v
            .seal("mika", &mika, serial, CARRIED_OVER)
            .check("v", None)
            .is_err());
        let (boss, boss_serial) = (&v.officer.0, v.officer.1);
        assert!(
            v.seal("boss", boss, boss_serial, CARRIED_OVER)
                .check("v", None)
                .unwrap()
                .carried_over
        );
        // A key that is not the certificate's, signing in mika's name.
        let mut forged = v.seal("mika", &SigningKeyPair::generate(), serial, KIND);
        forged.certificates = good.certificates.clone();
        assert!(matches!(forged.check("v", None), Err(Error::Tampered(_))));
    }
}
