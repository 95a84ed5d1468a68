//! Granting and revoking per-person access (D3). Access is enforced by
//! keys: a grant wraps the document's DEK to the person's HPKE public key,
//! which only a person who already holds the DEK can do; a revoke deletes
//! that wrap (with `secure_delete`, so its bytes leave the database file).

/// Who holds a key to which document: one row per person and document.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Holding {
    pub person: String,
    pub name: String,
    pub doc_id: i64,
    pub title: String,
    pub personal_data: bool,
}
