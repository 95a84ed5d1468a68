//! Contract end (E1–E4, E6): the disposal work plan (別添1), the bureau's
//! approval of that exact plan, execution by one person, confirmation by
//! another, and the signed completion report (別添2).
//!
//! ```text
//! plan (officer) → approve (officer: bureau ref + date) → execute (the
//! plan's executor) → confirm (the plan's confirmer, another person)
//! → report (officer)
//! ```
//!
//! Erasing a document is cryptographic: every wrap of its data key is
//! deleted (grants and the custodian's), its receipt's free text is
//! cleared, its object file is overwritten and unlinked, and afterwards the
//! database is checkpointed (`wal_checkpoint(TRUNCATE)`) and `VACUUM`ed
//! with `secure_delete` on. Each step is recorded as it is done, so an
//! execution that stops midway resumes where it stopped; the report states
//! only what the confirmer's verification found.
//!
//! The audit trail survives disposal and still verifies (E6).

pub mod confirmation;
pub mod forms;
pub mod returning;

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::actor::Ctx;
use crate::audit::checkpoint::Checkpoint;
use crate::crypto;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::permission::Action;

/// What the form's table holds for each item.
pub const KIND_ELECTRONIC: &str = "電磁的記録媒体";
pub const LOCATION_VAULT: &str = "端末（Kinko 暗号化保管庫）";
pub const LOCATION_EXPORT: &str = "端末（書き出し先）";
pub const METHOD_ERASE: &str = "消去（暗号化消去：鍵の破棄と上書き削除）";
pub const METHOD_ERASE_BY_HAND: &str = "消去（データ抹消ソフトウェア）";
pub const CHECK_VAULT: &str = "全項目の読み出し不能を Kinko で確認";
pub const CHECK_WITNESS: &str = "作業確認者の立ち会い";
pub const METHOD_RETURN: &str = "返却（暗号化した返却パッケージ）の後、消去（暗号化消去）";
pub const LOCATION_BACKUP: &str = "バックアップファイル";
pub const METHOD_ERASE_BACKUP: &str = "消去（上書き削除）。他の場所への複製は媒体ごと消去";
pub const CHECK_BACKUP: &str =
    "記録された場所にファイルが無いことを Kinko で確認し、複製の消去に立ち会う";
pub const LOCATION_SERVER: &str = "オフィスサーバー";
pub const LABEL_SERVER: &str = "オフィスサーバーのディスク（PostgreSQL のデータ、WAL、ベースバックアップ、スタンバイ）とオブジェクトストア（その複製を含む）。データベースとオブジェクトストアには確実な消去がなく、以前の鍵で封じた記録と消去した暗号文が残る";
pub const METHOD_DESTROY_SERVER: &str =
    "文書の消去（サーバー上の暗号文の削除を含む）の後、媒体を物理的に破壊";
pub const METHOD_DESTROY_SERVER_LATER: &str =
    "文書の消去（サーバー上の暗号文の削除を含む）。媒体は契約終了時の全体の廃棄で物理的に破壊";
pub const CHECK_RETURN: &str = "返却パッケージの受領確認と、全項目の読み出し不能を Kinko で確認";

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanItem {
    /// `document:12`, `export:3` or `keys`.
    pub item: String,
    /// What the row says the item is (no titles: numbers, dates, hashes).
    pub label: String,
    pub kind: String,
    pub location: String,
    pub method: String,
    pub check: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "PlanPerson"))]
pub struct Person {
    pub id: String,
    pub name: String,
}

/// The plan as signed and as approved: any change makes another plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Plan {
    pub plan: i64,
    pub vault_id: String,
    pub council: String,
    pub made_at: String,
    pub made_by: String,
    pub executor: Person,
    pub confirmer: Person,
    /// 全ての作業が完了する予定日.
    pub planned_date: NaiveDate,
    /// Every document the vault holds (not a subset on the bureau's
    /// instruction): the vault is disposed of once it is done.
    pub whole_vault: bool,
    /// The documents go back to the bureau in a return package first
    /// (`kinko return`), then are erased.
    pub returned: bool,
    pub items: Vec<PlanItem>,
}

/// What `disposal plan` hands back: the printable plan and its twin.
#[derive(Debug, Clone, Serialize)]
pub struct PlanFiles {
    pub plan: Plan,
    pub sha256: String,
    pub html: String,
    pub json: String,
}

/// What the confirmer's verification found for one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemCheck {
    pub item: String,
    /// Wrapped data keys left (must be 0).
    pub keys_left: i64,
    /// Whether its object file still exists (must be false).
    pub object_present: bool,
    /// Whether any key opened it (must be false).
    pub readable: bool,
    pub erased: bool,
    /// What the confirmer tried, in words (E3: "unreadable" is recorded
    /// only after trying). Absent in confirmations made before it was kept,
    /// so their signed checks read as they were signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<String>,
}

/// The state of the current plan (`disposal status`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanState {
    pub plan: Plan,
    pub sha256: String,
    pub state: String,
    pub approved_ref: Option<String>,
    pub approved_date: Option<String>,
    pub executed_by: Option<String>,
    pub executed_at: Option<String>,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    pub completed_date: Option<String>,
    pub checks: Vec<ItemCheck>,
}

/// The completion report's content (別添2), as signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completion {
    pub plan: Plan,
    pub plan_sha256: String,
    pub approved_ref: String,
    pub approved_date: String,
    pub executed_by: String,
    pub executed_at: String,
    pub confirmed_by: String,
    pub confirmed_at: String,
    /// 全ての作業が完了した日.
    pub completed_date: NaiveDate,
    pub checks: Vec<ItemCheck>,
    /// The audit tree when the disposal was confirmed.
    pub audit: Checkpoint,
    /// The confirmer's own signature of what they found (reports made
    /// before schema 3 carry none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Seal>,
}

/// A certificate as a seal carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedCert {
    /// Base64 of the certificate's signed bytes and of its signature.
    pub body: String,
    pub signature: String,
}

/// The confirmer's signed statement with what checks it offline
/// (`confirmation` signs, seals and checks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// Base64 of the statement's bytes and of its signature.
    pub statement: String,
    pub signature: String,
    /// The signer's certificate, then its issuer's (none when the root
    /// issued it).
    pub certificates: Vec<SealedCert>,
    /// Base64 of the vault's root public key.
    pub root_public: String,
}

/// What `disposal report` hands back.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFiles {
    pub completion: Completion,
    pub html: String,
    pub json: String,
}

/// `disposal plan` arguments.
pub struct PlanRequest<'a> {
    pub executor: &'a str,
    pub confirmer: &'a str,
    /// Only these documents (the bureau's instruction); None: everything.
    pub items: Option<&'a [i64]>,
    /// When the work is to be complete; None: `disposal.plan_days` (policy)
    /// Japan days from today.
    pub planned_date: Option<NaiveDate>,
    /// Return the documents to the bureau before erasing them.
    pub returned: bool,
}

pub(crate) fn plan_sha256(body: &str) -> String {
    crypto::hex(&crypto::sha256(body.as_bytes()))
}

/// An account that may execute or confirm: active, officer or manager.
pub(crate) fn person(tx: &Transaction, id: &str, what: &str) -> Result<Person> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT name, roles, status FROM accounts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match row {
        None => Err(Error::NotFound(format!("account {id}"))),
        Some((_, _, status)) if status != "active" => Err(Error::invalid(format!(
            "{id} cannot be the {what}: the account is {status}"
        ))),
        Some((name, roles, _)) => {
            let roles = crate::permission::Roles::parse(&roles)?;
            let action = if what == "executor" {
                Action::DisposalExecute
            } else {
                Action::DisposalConfirm
            };
            crate::permission::check(&roles, action).map_err(|_| {
                Error::invalid(format!(
                    "{id} cannot be the {what}: only the officer or a manager can"
                ))
            })?;
            Ok(Person {
                id: id.into(),
                name,
            })
        }
    }
}

/// The starting list: every document not yet erased (or the chosen ones),
/// every recorded export of them, and the key material.
pub(crate) fn inventory(
    tx: &Transaction,
    only: Option<&[i64]>,
    on_server: bool,
) -> Result<(Vec<PlanItem>, bool)> {
    let docs: Vec<(i64, String, i64, String)> = tx
        .prepare("SELECT id, received_at, size, sha256 FROM documents WHERE erased_at IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(only) = only {
        for id in only {
            if !docs.iter().any(|d| d.0 == *id) {
                return Err(Error::NotFound(format!(
                    "document {id} (or it was disposed of already)"
                )));
            }
        }
    }
    let chosen: Vec<_> = docs
        .iter()
        .filter(|d| only.is_none_or(|o| o.contains(&d.0)))
        .collect();
    if chosen.is_empty() {
        return Err(Error::invalid("the vault holds no documents to dispose of"));
    }
    let whole = chosen.len() == docs.len();
    let mut items = Vec::new();
    for (id, received, size, sha) in &chosen {
        let day = received.get(..10).unwrap_or(received);
        items.push(PlanItem {
            item: format!("document:{id}"),
            label: format!(
                "文書 {id}（受領 {day}、{size} バイト、SHA-256 {}…）",
                &sha[..16.min(sha.len())]
            ),
            kind: KIND_ELECTRONIC.into(),
            location: LOCATION_VAULT.into(),
            method: METHOD_ERASE.into(),
            check: CHECK_VAULT.into(),
        });
        let exports: Vec<(i64, String, String)> = tx
            .prepare("SELECT id, target, at FROM exports WHERE doc_id = ?1 ORDER BY id")?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (export, target, at) in exports {
            items.push(PlanItem {
                item: format!("export:{export}"),
                label: format!(
                    "文書 {id} の書き出し（{}、{target}）",
                    at.get(..10).unwrap_or(&at)
                ),
                kind: KIND_ELECTRONIC.into(),
                location: LOCATION_EXPORT.into(),
                method: METHOD_ERASE_BY_HAND.into(),
                check: CHECK_WITNESS.into(),
            });
        }
    }
    // A backup holds every document it was made with, so every backup
    // still on record is erased with any of them (E3).
    let backups: Vec<(i64, String, String, i64, i64)> = tx
        .prepare("SELECT id, path, made_at, size, epoch FROM backups WHERE destroyed_at IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, path, made, size, epoch) in backups {
        items.push(PlanItem {
            item: format!("backup:{id}"),
            label: format!(
                "バックアップ {id}（作成 {}、{size} バイト、鍵世代 {epoch}）",
                made.get(..10).unwrap_or(&made)
            ),
            kind: KIND_ELECTRONIC.into(),
            location: format!("{LOCATION_BACKUP} {path}"),
            method: METHOD_ERASE_BACKUP.into(),
            check: CHECK_BACKUP.into(),
        });
    }
    if on_server {
        // The server's engines have no secure delete: what they held of
        // the vault (old units under old keys, erased objects' bytes)
        // stays on their disks until the media are destroyed.
        items.push(PlanItem {
            item: "server".into(),
            label: LABEL_SERVER.into(),
            kind: KIND_ELECTRONIC.into(),
            location: LOCATION_SERVER.into(),
            method: if whole {
                METHOD_DESTROY_SERVER
            } else {
                METHOD_DESTROY_SERVER_LATER
            }
            .into(),
            check: CHECK_WITNESS.into(),
        });
    }
    if whole {
        items.push(PlanItem {
            item: "keys".into(),
            label: "文書の暗号鍵（利用者・保管用の鍵の写し）、名簿と件名を封じた鍵、保存されたセッション。持ち出されたバックアップは復旧コードなしには開けず、復旧コードの用紙は完了報告の後に裁断する".into(),
            kind: KIND_ELECTRONIC.into(),
            location: LOCATION_VAULT.into(),
            method: METHOD_ERASE.into(),
            check: CHECK_VAULT.into(),
        });
    }
    Ok((items, whole))
}

/// The current (newest, not superseded) plan and its state.
pub(crate) fn current(conn: &Connection) -> Result<Option<(i64, String, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, body, state FROM disposal_plans WHERE state <> 'superseded' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// The current plan, checked against the hash its approval bound.
pub(crate) fn load_current(conn: &Connection) -> Result<(Plan, String, String)> {
    let (id, body, state) = current(conn)?
        .ok_or_else(|| Error::NotFound("a disposal plan (make one with `disposal plan`)".into()))?;
    let stored: String = conn.query_row(
        "SELECT body_sha256 FROM disposal_plans WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let sha = plan_sha256(&body);
    if sha != stored {
        return Err(Error::tampered(format!(
            "disposal plan {id} was changed after it was made"
        )));
    }
    let plan: Plan = serde_json::from_str(&body)
        .map_err(|_| Error::tampered(format!("disposal plan {id} is not readable")))?;
    Ok((plan, sha, state))
}

/// What the officer's statement of the bureau's approval says: which
/// plan, the SHA-256 the bureau approved, their reference and date.
pub(crate) fn approval_says(
    plan: i64,
    sha256: &str,
    reference: &str,
    date: &str,
) -> serde_json::Value {
    serde_json::json!({"plan": plan, "sha256": sha256, "reference": reference, "date": date})
}

/// Sign the approval recorded on `plan` (the officer, when recording it,
/// or at the upgrade from what the trail shows).
pub(crate) fn sign_approval(
    conn: &Connection,
    signer: &crate::grant::Signer,
    plan: i64,
) -> Result<()> {
    let (sha, reference, date): (String, String, String) = conn.query_row(
        "SELECT body_sha256, approved_ref, approved_date FROM disposal_plans WHERE id = ?1",
        [plan],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let s = crate::statement::sign(
        signer,
        "disposal approval",
        approval_says(plan, &sha, &reference, &date),
    )?;
    conn.execute(
        "UPDATE disposal_plans SET approval_statement = ?2, approval_signature = ?3 WHERE id = ?1",
        rusqlite::params![plan, s.bytes, s.signature],
    )?;
    Ok(())
}

/// The approval recorded on `plan` must be the officer's signed record of
/// the bureau's approval of exactly this plan: one written by hand, or
/// moved from another plan, is tampering. Checked before anything is
/// returned, destroyed, confirmed or reported under it.
pub(crate) fn check_approval(conn: &Connection, ctx: &Ctx, plan: i64) -> Result<()> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let (sha, reference, date, statement, signature): Row = conn.query_row(
        "SELECT body_sha256, approved_ref, approved_date, approval_statement, approval_signature FROM disposal_plans WHERE id = ?1",
        [plan],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    ctx.check_statement(
        conn,
        &crate::statement::Claim {
            kind: "disposal approval",
            says: approval_says(
                plan,
                &sha,
                reference.as_deref().unwrap_or_default(),
                date.as_deref().unwrap_or_default(),
            ),
            needs: Action::DisposalApprove,
            what: &format!("the bureau's approval of disposal plan {plan}"),
            by: None,
        },
        (statement, signature),
    )
}

pub(crate) fn require_state(state: &str, wanted: &[&str], doing: &str) -> Result<()> {
    if wanted.contains(&state) {
        return Ok(());
    }
    let why = match state {
        "draft" => "the bureau's approval of the plan is not recorded yet (`disposal approve`)",
        "approved" | "executing" => "the plan has not been executed yet",
        "executed" => "the execution has not been confirmed yet",
        "confirmed" | "reported" => "the disposal is already done",
        other => other,
    };
    Err(Error::denied(format!("cannot {doing}: {why}")))
}

pub(crate) fn remove_all_sessions(ctx: &Ctx) -> Result<()> {
    let dir = ctx.dir.join(crate::layout::SESSIONS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for e in entries.flatten() {
        fsutil::remove_overwritten(&e.path())?;
    }
    Ok(())
}

/// The keys a confirmation tries: the confirmer's own and the
/// custodian's (from the recovery code, asked for at confirmation).
pub(crate) struct Tries<'a> {
    pub confirmer: &'a str,
    pub own: &'a [u8; 32],
    pub custodian: &'a [u8; 32],
}

/// Try every item of the plan (E3): no key may be left, no object file,
/// and neither the confirmer's key nor the custodian's may open anything
/// left. Each check says what was tried.
pub(crate) fn verify_items(
    tx: &Transaction,
    ctx: &Ctx,
    plan: &Plan,
    keys: &Tries<'_>,
) -> Result<Vec<ItemCheck>> {
    let mut out = Vec::new();
    for item in &plan.items {
        if let Some(id) = item.item.strip_prefix("backup:") {
            out.push(check_backup(tx, &item.item, id)?);
            continue;
        }
        let Some(id) = item.item.strip_prefix("document:") else {
            continue;
        };
        let id: i64 = id
            .parse()
            .map_err(|_| Error::tampered("a plan item is malformed"))?;
        out.push(try_document(tx, ctx, &item.item, id, keys)?);
    }
    Ok(out)
}

/// Try to read document `id` as the plan's confirmer can: every wrap row
/// left for it with both keys, and the object file (if any is left) with
/// every key that opened.
fn try_document(
    tx: &Transaction,
    ctx: &Ctx,
    item: &str,
    id: i64,
    keys: &Tries<'_>,
) -> Result<ItemCheck> {
    let (uid, version, name): (Vec<u8>, u32, String) = tx.query_row(
        "SELECT uid, version, object_name FROM documents WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let uid: [u8; 16] = uid
        .try_into()
        .map_err(|_| Error::tampered(format!("document {id} has a malformed uid")))?;
    let wraps: Vec<(String, crate::crypto::Wrapped)> = tx
        .prepare("SELECT holder, enc, ciphertext FROM wraps WHERE doc_id = ?1")?
        .query_map([id], |r| {
            Ok((
                r.get(0)?,
                crate::crypto::Wrapped {
                    enc: r.get(1)?,
                    ciphertext: r.get(2)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut opened: Vec<zeroize::Zeroizing<Vec<u8>>> = Vec::new();
    for (holder, wrap) in &wraps {
        let context = crate::document::wrap_context(&ctx.vault_id, &uid, holder);
        for secret in [keys.own, keys.custodian] {
            if let Some(dek) = crate::crypto::hpke_unwrap(secret, &context, wrap) {
                opened.push(dek);
            }
        }
    }
    let path = ctx.object_path(&crate::object::ObjectName::parse(&name)?);
    // On an office server, the server's copy counts too: it must hand out
    // nothing (it says the object was erased, or it never held it).
    let at_server = match &ctx.replica {
        Some(r) => r.upstream().has_object(&name)?,
        None => false,
    };
    let object_present = path.exists() || at_server;
    let mut readable = false;
    if path.exists() {
        for dek in &opened {
            let Ok(dek) = <[u8; 32]>::try_from(dek.as_slice()) else {
                continue;
            };
            let dek = zeroize::Zeroizing::new(dek);
            let mut src = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            if crate::crypto::stream::decrypt(&dek, uid, version, &mut src, &mut std::io::sink())
                .is_ok()
            {
                readable = true;
            }
        }
    }
    let keys_left = wraps.len() as i64;
    let tried = vec![
        format!(
            "{keys_left} wrapped keys left, tried with {}'s key and the custodian's: {} opened",
            keys.confirmer,
            opened.len()
        ),
        if object_present {
            format!(
                "object file present, tried with every opened key: {}",
                if readable { "read" } else { "not read" }
            )
        } else {
            "object file absent".to_string()
        },
    ];
    Ok(ItemCheck {
        item: item.into(),
        keys_left,
        object_present,
        readable,
        erased: keys_left == 0 && !object_present && !readable,
        tried,
    })
}

/// Match every object an office server erased with the signed
/// `disposal.step` event that records its removal, made by the executor
/// of an approved plan that lists the document: a unit asking the server
/// to erase an object outside such a plan (an insider's terminal
/// destroying evidence) is tampering. The trail's verification checks
/// each event's signature and signer; the approval is the officer's
/// signed statement over the plan's SHA-256.
pub(crate) fn check_erased(
    conn: &Connection,
    ctx: &Ctx,
    erased: &[crate::replica::ErasedObject],
) -> Result<()> {
    for e in erased {
        let doc: Option<i64> = conn
            .query_row(
                "SELECT id FROM documents WHERE object_name = ?1",
                [&e.name],
                |r| r.get(0),
            )
            .optional()?;
        let mut recorded = false;
        if let Some(id) = doc {
            let item = format!("document:{id}");
            for told in crate::trail_facts::events_named(conn, &item, "disposal.step")? {
                if removed_under_plan(conn, ctx, &told, &item)? {
                    recorded = true;
                    break;
                }
            }
        }
        if !recorded {
            return Err(Error::tampered(format!(
                "the office server erased object {} with unit {}, but no signed disposal step of an approved plan's executor records its removal",
                e.name.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect::<String>(),
                e.unit
            )));
        }
    }
    Ok(())
}

/// Is `told` ("plan N: object_removed" on `item`) the step of plan N's
/// executor, plan N approved by the officer's signed statement and
/// listing `item`?
fn removed_under_plan(
    conn: &Connection,
    ctx: &Ctx,
    told: &crate::trail_facts::Told,
    item: &str,
) -> Result<bool> {
    let Some(plan) = told
        .detail
        .strip_prefix("plan ")
        .and_then(|d| d.strip_suffix(": object_removed"))
        .and_then(|n| n.parse::<i64>().ok())
    else {
        return Ok(false);
    };
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT body, body_sha256 FROM disposal_plans WHERE id = ?1",
            [plan],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((body, sha)) = row else {
        return Ok(false);
    };
    if plan_sha256(&body) != sha || check_approval(conn, ctx, plan).is_err() {
        return Ok(false);
    }
    let Ok(p) = serde_json::from_str::<Plan>(&body) else {
        return Ok(false);
    };
    Ok(p.executor.id == told.actor && p.items.iter().any(|i| i.item == item))
}

/// A backup is erased once its file is gone from the recorded path.
fn check_backup(tx: &Transaction, item: &str, id: &str) -> Result<ItemCheck> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::tampered("a plan item is malformed"))?;
    let (path, uid): (String, String) =
        tx.query_row("SELECT path, uid FROM backups WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let path = std::path::Path::new(&path);
    let present = crate::backup::is_backup(path, &uid)
        || crate::backup::is_backup(&crate::backup::partial_path(path), &uid);
    Ok(ItemCheck {
        item: item.into(),
        keys_left: 0,
        object_present: present,
        readable: present,
        erased: !present,
        tried: vec![format!(
            "backup file at its recorded path (and its partial copy): {}",
            if present { "present" } else { "absent" }
        )],
    })
}

pub(crate) fn plan_state(
    tx: &Transaction,
    plan: Plan,
    sha: String,
    state: String,
) -> Result<PlanState> {
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let r: Row = tx.query_row(
        "SELECT approved_ref, approved_date, executed_by, executed_at, confirmed_by, confirmed_at, completed_date, verification FROM disposal_plans WHERE id = ?1",
        [plan.plan],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
    )?;
    let checks = match r.7 {
        Some(v) => serde_json::from_str(&v)
            .map_err(|_| Error::tampered("the stored verification is not readable"))?,
        None => Vec::new(),
    };
    Ok(PlanState {
        plan,
        sha256: sha,
        state,
        approved_ref: r.0,
        approved_date: r.1,
        executed_by: r.2,
        executed_at: r.3,
        confirmed_by: r.4,
        confirmed_at: r.5,
        completed_date: r.6,
        checks,
    })
}
