//! Circle keys (issue 15): personal data that several people must read,
//! but not everyone with an account, is sealed to a key pair whose private
//! half a circle of people holds, chosen by their certified roles. Anyone
//! may seal to a circle (a handler receiving a document seals its label
//! for the officer); only members open.
//!
//! - **roster**: the handler and worker rosters (addresses, birth dates,
//!   nationality …): the officer, the managers and the custodian.
//! - **catalogue**: every document's title, file name and origin, for the
//!   officer and the custodian (a document's holders read its own through
//!   its data key, `label.rs`).
//!
//! The private key is wrapped (HPKE) to each member's certified public key
//! and to the custodian's; the shared database key alone opens none of
//! it. The officer signs, when the circle is made, a statement naming its
//! public key: whoever seals uses only that signed key, and every opening
//! checks the private key it got against it, so someone who swaps in a
//! key pair of his own (to read what is sealed next) is refused.
//!
//! Members are admitted when the officer certifies them (`certify_account`
//! wraps the key to the keys just vouched for) and lose their wrap when
//! their keys change or their account is disabled. The key is not rotated
//! when someone leaves: what they could read while a member they may have
//! kept (docs/key-management.md).

use rusqlite::{params, Connection, OptionalExtension};
use zeroize::Zeroizing;

use crate::crypto::{self, Wrapped};
use crate::error::{Error, Result};
use crate::permission::{Action, Role, Roles};

/// Holder name of the custodian's wrap (account IDs cannot start with
/// `#`), as in the document wraps.
const CUSTODIAN: &str = "#custodian";

/// Which circle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Circle {
    /// Both rosters: the officer and the managers.
    Roster,
    /// Every document's label: the officer.
    Catalogue,
}

impl Circle {
    pub(crate) const ALL: [Circle; 2] = [Circle::Roster, Circle::Catalogue];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Circle::Roster => "roster",
            Circle::Catalogue => "catalogue",
        }
    }

    /// Does someone certified with `roles` belong?
    pub(crate) fn admits(self, roles: &Roles) -> bool {
        match self {
            Circle::Roster => roles.has(Role::Officer) || roles.has(Role::Manager),
            Circle::Catalogue => roles.has(Role::Officer),
        }
    }

    fn wrap_context(self, vault_id: &str, holder: &str) -> Vec<u8> {
        format!("kinko circle v1\0{vault_id}\0{}\0{holder}", self.name()).into_bytes()
    }

    /// The HPKE context of a value sealed to the circle, bound to `what`
    /// it is (a row's kind and ID): moved to another row it does not open.
    fn sealed_context(self, vault_id: &str, what: &str) -> Vec<u8> {
        format!("kinko sealed v1\0{vault_id}\0{}\0{what}", self.name()).into_bytes()
    }
}

/// Length of a P-256 HPKE encapsulated key (an uncompressed point).
const ENC_LEN: usize = 65;

/// A circle's public key, as the officer signed it: what sealing uses.
pub(crate) struct CirclePublic {
    circle: Circle,
    vault_id: String,
    public: Vec<u8>,
}

impl CirclePublic {
    /// Seal `plaintext` for the circle's members, as `what`.
    pub(crate) fn seal(&self, what: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let w = crypto::hpke_wrap(
            &self.public,
            &self.circle.sealed_context(&self.vault_id, what),
            plaintext,
        )?;
        Ok([w.enc, w.ciphertext].concat())
    }
}

/// An opened circle key.
pub(crate) struct CircleKey {
    circle: Circle,
    vault_id: String,
    secret: Zeroizing<[u8; 32]>,
    public: Vec<u8>,
}

impl CircleKey {
    /// Open what [`CirclePublic::seal`] made as `what`.
    pub(crate) fn open(&self, what: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let bad = || {
            Error::tampered(format!(
                "{what} does not open with the {} key (changed or moved outside Kinko)",
                self.circle.name()
            ))
        };
        if sealed.len() <= ENC_LEN {
            return Err(bad());
        }
        let (enc, ciphertext) = sealed.split_at(ENC_LEN);
        crypto::hpke_unwrap(
            &self.secret,
            &self.circle.sealed_context(&self.vault_id, what),
            &Wrapped {
                enc: enc.to_vec(),
                ciphertext: ciphertext.to_vec(),
            },
        )
        .ok_or_else(bad)
    }

    /// The same circle's public key, to seal again what was opened.
    pub(crate) fn public(&self) -> CirclePublic {
        CirclePublic {
            circle: self.circle,
            vault_id: self.vault_id.clone(),
            public: self.public.clone(),
        }
    }
}

/// Make `circle`'s key pair, sign its public key as `signer` (the
/// officer), and wrap the private key to the custodian and to each of
/// `members` (ID, certified HPKE public key).
pub(crate) fn create(
    tx: &Connection,
    signer: &crate::grant::Signer,
    circle: Circle,
    custodian_public: &[u8],
    members: &[(&str, &[u8])],
) -> Result<CircleKey> {
    let pair = crypto::HpkeKeyPair::generate();
    let key = CircleKey {
        circle,
        vault_id: signer.vault_id.to_string(),
        secret: Zeroizing::new(*pair.secret),
        public: pair.public,
    };
    let statement = crate::statement::sign(signer, "circle key", says(circle, &key.public))?;
    tx.execute(
        "INSERT INTO circles (name, public_key, statement, signature) VALUES (?1, ?2, ?3, ?4)",
        params![
            circle.name(),
            key.public,
            statement.bytes,
            statement.signature
        ],
    )?;
    wrap_to(tx, &key, CUSTODIAN, custodian_public)?;
    for (member, public) in members {
        wrap_to(tx, &key, member, public)?;
    }
    Ok(key)
}

fn says(circle: Circle, public: &[u8]) -> serde_json::Value {
    serde_json::json!({ "circle": circle.name(), "public_key": crypto::hex(public) })
}

/// Wrap the circle's private key to `holder` (replacing an earlier wrap).
fn wrap_to(tx: &Connection, key: &CircleKey, holder: &str, public: &[u8]) -> Result<()> {
    let w = crypto::hpke_wrap(
        public,
        &key.circle.wrap_context(&key.vault_id, holder),
        key.secret.as_slice(),
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO circle_wraps (circle, holder, enc, ciphertext) VALUES (?1, ?2, ?3, ?4)",
        params![key.circle.name(), holder, w.enc, w.ciphertext],
    )?;
    Ok(())
}

/// `circle`'s public key, checked against the officer's signed statement:
/// one written outside Kinko (to read what is sealed next) is tampering.
pub(crate) fn public(
    tx: &Connection,
    ctx: &crate::actor::Ctx,
    circle: Circle,
) -> Result<CirclePublic> {
    type Row = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Row> = tx
        .query_row(
            "SELECT public_key, statement, signature FROM circles WHERE name = ?1",
            [circle.name()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (public, statement, signature) = row
        .ok_or_else(|| Error::tampered(format!("the {} key's record is missing", circle.name())))?;
    ctx.check_statement(
        tx,
        &crate::statement::Claim {
            kind: "circle key",
            says: says(circle, &public),
            needs: Action::AccountCertify,
            what: &format!("the {} key", circle.name()),
            by: None,
        },
        (statement, signature),
    )?;
    Ok(CirclePublic {
        circle,
        vault_id: ctx.vault_id.clone(),
        public,
    })
}

/// Open `circle`'s key as the acting person: a member who holds a wrap.
pub(crate) fn open(tx: &Connection, ctx: &crate::actor::Ctx, circle: Circle) -> Result<CircleKey> {
    if !circle.admits(&ctx.actor.roles) {
        return Err(Error::denied(format!(
            "your roles do not open the {} key",
            circle.name()
        )));
    }
    match open_as(tx, ctx, circle, &ctx.actor.id, &ctx.secrets.hpke_secret)? {
        Some(key) => Ok(key),
        None if crate::db::meta(tx, "state")? == b"disposed" => Err(Error::denied(format!(
            "the {} key was destroyed at the contract's end, with what it sealed",
            circle.name()
        ))),
        // The officer wraps the key at every certification that admits:
        // a certified member without one had it deleted.
        None => Err(Error::tampered(format!(
            "your wrap of the {} key is missing (deleted outside Kinko)",
            circle.name()
        ))),
    }
}

/// Open `holder`'s wrap with `secret`; the private key must belong to the
/// signed public key. `None` when `holder` holds no wrap.
fn open_as(
    tx: &Connection,
    ctx: &crate::actor::Ctx,
    circle: Circle,
    holder: &str,
    secret: &[u8; 32],
) -> Result<Option<CircleKey>> {
    let wrap: Option<Wrapped> = tx
        .query_row(
            "SELECT enc, ciphertext FROM circle_wraps WHERE circle = ?1 AND holder = ?2",
            params![circle.name(), holder],
            |r| {
                Ok(Wrapped {
                    enc: r.get(0)?,
                    ciphertext: r.get(1)?,
                })
            },
        )
        .optional()?;
    let Some(wrap) = wrap else { return Ok(None) };
    let bad = || {
        Error::tampered(format!(
            "the {} key wrapped to {holder} does not open (changed outside Kinko)",
            circle.name()
        ))
    };
    let opened = crypto::hpke_unwrap(secret, &circle.wrap_context(&ctx.vault_id, holder), &wrap)
        .ok_or_else(bad)?;
    let private: [u8; 32] = opened.as_slice().try_into().map_err(|_| bad())?;
    let private = Zeroizing::new(private);
    let signed = public(tx, ctx, circle)?;
    if crypto::HpkeKeyPair::public_of(&private).ok().as_deref() != Some(signed.public.as_slice()) {
        return Err(Error::tampered(format!(
            "the {} key wrapped to {holder} is not the one the officer made (replaced outside Kinko)",
            circle.name()
        )));
    }
    Ok(Some(CircleKey {
        circle,
        vault_id: ctx.vault_id.clone(),
        secret: private,
        public: signed.public,
    }))
}

/// Admit `account` (just certified with `roles` and HPKE key `public`) to
/// every circle those roles belong to, and take it out of the others.
/// The acting person (the officer) must hold each key it wraps.
pub(crate) fn admit(
    tx: &Connection,
    ctx: &crate::actor::Ctx,
    account: &str,
    roles: &Roles,
    public: &[u8],
) -> Result<()> {
    for circle in Circle::ALL {
        if circle.admits(roles) {
            let key = open(tx, ctx, circle)?;
            wrap_to(tx, &key, account, public)?;
        } else {
            tx.execute(
                "DELETE FROM circle_wraps WHERE circle = ?1 AND holder = ?2",
                params![circle.name(), account],
            )?;
        }
    }
    Ok(())
}

/// `account`'s keys changed or it was disabled: its wraps open nothing
/// any more (new keys) or must not (disabled); they go.
pub(crate) fn leave_all(tx: &Connection, account: &str) -> Result<()> {
    tx.execute("DELETE FROM circle_wraps WHERE holder = ?1", [account])?;
    Ok(())
}
