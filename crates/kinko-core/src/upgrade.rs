//! Upgrading, in place, a vault an earlier release made.
//!
//! Schema 2 → 3 (certificates, issue 14) runs at the officer's first
//! sign-in with the new release, in one transaction: the officer's own
//! slot proves the vault's keys and the officer's record (its schema-2
//! anchor covers both); the audit trail must verify; a root key is made
//! and sealed to the custodian key; the root certifies the officer; the
//! officer certifies every account whose person has set their own
//! password and whose roles are the ones the trail recorded when it was
//! added. Anyone else waits for the officer's `account certify`. Until the
//! upgrade, nobody else can sign in.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::audit::{self, Event};
use crate::cert::{self, Issuer, Subject};
use crate::crypto::{self, SigningKeyPair};
use crate::db;
use crate::error::{Error, Result};
use crate::keyslots::{anchor_v2, AccountFacts, SlotSecrets, VaultFacts};
use crate::permission::{Role, Roles};

/// Upgrade a schema-2 database, signed in as `id` with `secrets`.
pub(crate) fn from_schema_2(
    conn: &mut Connection,
    vault_id: &str,
    id: &str,
    secrets: &SlotSecrets,
    terminal: &str,
) -> Result<()> {
    let officer = AccountRow::load(conn, id)?;
    officer.check_anchor(conn, vault_id, secrets)?;
    if !Roles::parse(&officer.roles)?.has(Role::Officer) {
        return Err(Error::Unsupported(
            "this vault was made by an earlier Kinko: its Information Management Officer must sign in once to upgrade it".into(),
        ));
    }
    audit::verify::verify_trail(conn, vault_id, None)?;
    let custodian = db::meta(conn, "custodian_public")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(db::SCHEMA_2_TO_3)?;
    tx.execute_batch(db::SCHEMA_3_TABLES)?;
    let root = SigningKeyPair::generate();
    let sealed = crypto::hpke_wrap(&custodian, &cert::root_context(vault_id), &*root.secret)?;
    for (k, v) in [
        ("root_public", root.public.clone()),
        ("root_sealed", [sealed.enc, sealed.ciphertext].concat()),
    ] {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![k, v],
        )?;
    }
    let officer_serial = cert::issue(
        &tx,
        vault_id,
        &Issuer {
            name: cert::ROOT,
            serial: None,
            secret: &root.secret,
        },
        &officer.subject(),
    )?;
    let by_officer = Issuer {
        name: id,
        serial: Some(officer_serial),
        secret: &secrets.sign_secret,
    };
    let (mut certified, mut waiting) = (vec![id.to_string()], Vec::new());
    for other in AccountRow::others(&tx, id)? {
        if other.set_own_password && trail_roles(&tx, &other.id)? == Some(other.roles.clone()) {
            cert::issue(&tx, vault_id, &by_officer, &other.subject())?;
            certified.push(other.id);
        } else {
            waiting.push(other.id);
        }
    }
    audit::append(
        &tx,
        &Event::new(
            id,
            "vault.upgrade",
            &format!("vault:{vault_id}"),
            audit::OK,
            terminal,
            &format!(
                "schema 2 -> 3; certified: {}; awaiting certification: {}",
                certified.join(","),
                if waiting.is_empty() {
                    "none".to_string()
                } else {
                    waiting.join(",")
                }
            ),
        ),
    )?;
    tx.commit()?;
    Ok(())
}

/// The roles the trail recorded when the account was added.
fn trail_roles(conn: &Connection, id: &str) -> Result<Option<String>> {
    let detail: Option<String> = conn
        .query_row(
            "SELECT detail FROM audit_events WHERE event = 'account.add' AND object = ?1 AND outcome = 'ok' ORDER BY seq DESC LIMIT 1",
            [format!("account:{id}")],
            |r| r.get(0),
        )
        .optional()?;
    Ok(detail.and_then(|d| d.strip_prefix("roles=").map(str::to_string)))
}

struct AccountRow {
    id: String,
    name: String,
    roles: String,
    hpke_public: Vec<u8>,
    sign_public: Vec<u8>,
    set_own_password: bool,
}

impl AccountRow {
    const COLUMNS: &'static str =
        "id, name, roles, hpke_public, sign_public, must_change_password = 0";

    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(AccountRow {
            id: r.get(0)?,
            name: r.get(1)?,
            roles: r.get(2)?,
            hpke_public: r.get(3)?,
            sign_public: r.get(4)?,
            set_own_password: r.get(5)?,
        })
    }

    fn load(conn: &Connection, id: &str) -> Result<Self> {
        conn.query_row(
            &format!("SELECT {} FROM accounts WHERE id = ?1", Self::COLUMNS),
            [id],
            Self::from_row,
        )
        .optional()?
        .ok_or_else(|| Error::tampered(format!("keyslot for {id} has no account")))
    }

    fn others(conn: &Connection, id: &str) -> Result<Vec<Self>> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE id != ?1 AND status != 'disabled' ORDER BY id",
            Self::COLUMNS
        );
        let rows = conn
            .prepare(&sql)?
            .query_map([id], Self::from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The schema-2 anchor of the slot covers the vault's keys and this
    /// record: a changed role or key of the officer is tampering.
    fn check_anchor(&self, conn: &Connection, vault_id: &str, secrets: &SlotSecrets) -> Result<()> {
        let facts = VaultFacts {
            vault_id: vault_id.to_string(),
            custodian_public: db::meta(conn, "custodian_public")?,
            inbox_public: db::meta(conn, "inbox_public")?,
            audit_public: db::meta(conn, "audit_public")?,
            root_public: Vec::new(),
        };
        let expected = anchor_v2(
            &facts,
            &AccountFacts {
                account: &self.id,
                roles: &self.roles,
                hpke_public: &self.hpke_public,
                sign_public: &self.sign_public,
            },
        );
        if expected != secrets.anchor {
            return Err(Error::tampered(
                "the vault's keys or your account record were changed outside Kinko",
            ));
        }
        Ok(())
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            account: &self.id,
            name: &self.name,
            roles: &self.roles,
            hpke_public: &self.hpke_public,
            sign_public: &self.sign_public,
        }
    }
}
