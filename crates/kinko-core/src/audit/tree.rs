//! The RFC 6962 Merkle tree over the audit events, kept in the database.
//!
//! Leaf `i` (0-based) is event `seq = i + 1`. Its hash is
//! `SHA-256(0x00 || canonical event bytes)`, stored with the event; every
//! complete ("perfect") subtree of `2^level` leaves starting at leaf
//! `idx << level` is stored in `audit_nodes(level, idx)` when its last leaf
//! is appended, so appending costs one insert per completed subtree (one on
//! average) and any root or proof needs at most a few dozen lookups.
//!
//! The hashing and proof *verification* are RFC 6962's and come from the
//! `ct-merkle` crate; this module only stores nodes and fetches the ones a
//! proof needs (`ct_merkle::indices_for_*` names them in the array layout
//! of RFC 9420 §4.1, which [`array_node`] maps back to leaf ranges).

use crate::crypto::{Digest, Sha256};
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

pub type Hash = [u8; 32];

/// A tree head: the size of the trail and the root over those events (what
/// a person's terminal remembers, `witness.rs`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub size: u64,
    /// Hex of the root hash.
    pub root: String,
}

/// `SHA-256(0x00 || bytes)`: the hash of a leaf.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut h = Sha256::new_with_prefix([0u8]);
    h.update(bytes);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an inner node.
pub fn parent_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new_with_prefix([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// Where a tree's nodes come from: the database, or memory while verifying.
pub trait Nodes {
    /// The hash of the perfect subtree of `2^level` leaves starting at leaf
    /// `idx << level`, if it is stored.
    fn node(&self, level: u32, idx: u64) -> Result<Option<Hash>>;
}

/// `MTH(D[start..end])` of RFC 6962 §2.1, from stored perfect subtrees.
pub fn range_hash(nodes: &impl Nodes, start: u64, end: u64) -> Result<Hash> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return nodes.node(level, start >> level)?.ok_or_else(|| {
            Error::tampered(format!(
                "the audit tree has no node for events {}–{}",
                start + 1,
                end
            ))
        });
    }
    // k: the largest power of two smaller than n.
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    Ok(parent_hash(
        &range_hash(nodes, start, start + k)?,
        &range_hash(nodes, start + k, end)?,
    ))
}

/// The root of the tree of the first `size` leaves.
pub fn root(nodes: &impl Nodes, size: u64) -> Result<Hash> {
    range_hash(nodes, 0, size)
}

/// The hash of node `x` in the array layout `ct-merkle` uses for a tree of
/// `size` leaves: a node at level `k` covers the leaves from
/// `(x >> (k + 1)) << k`, `2^k` of them or up to the end of the tree.
fn array_node(nodes: &impl Nodes, size: u64, x: u64) -> Result<Hash> {
    let k = x.trailing_ones();
    let start = (x >> (k + 1)) << k;
    let end = (start + (1u64 << k)).min(size);
    range_hash(nodes, start, end)
}

/// The audit path of leaf `idx` in the tree of `size` leaves.
pub fn inclusion_proof(nodes: &impl Nodes, size: u64, idx: u64) -> Result<InclusionProof<Sha256>> {
    if idx >= size {
        return Err(Error::invalid(format!(
            "event {} is not in a trail of {size} events",
            idx + 1
        )));
    }
    let digests = ct_merkle::indices_for_inclusion_proof(size, idx)
        .into_iter()
        .map(|x| array_node(nodes, size, x).map(Into::into))
        .collect::<Result<Vec<_>>>()?;
    Ok(InclusionProof::from_digests(digests.iter()))
}

/// The proof that the tree of `old` leaves is a prefix of the tree of
/// `new` leaves.
pub fn consistency_proof(
    nodes: &impl Nodes,
    old: u64,
    new: u64,
) -> Result<ConsistencyProof<Sha256>> {
    if old == 0 || old > new {
        return Err(Error::invalid(format!(
            "no consistency proof from {old} to {new} events"
        )));
    }
    let digests = ct_merkle::indices_for_consistency_proof(old, new - old)
        .into_iter()
        .map(|x| array_node(nodes, new, x).map(Into::into))
        .collect::<Result<Vec<_>>>()?;
    Ok(ConsistencyProof::from_digests(digests.iter()))
}

/// Check with `ct-merkle` that `leaf_bytes` is leaf `idx` under `root`.
pub fn verify_inclusion(
    root: &Hash,
    size: u64,
    leaf_bytes: &[u8],
    idx: u64,
    proof: &InclusionProof<Sha256>,
) -> bool {
    RootHash::<Sha256>::new((*root).into(), size)
        .verify_inclusion(&leaf_bytes, idx, proof)
        .is_ok()
}

/// Check with `ct-merkle` that the tree (`old_size`, `old_root`) is a
/// prefix of (`new_size`, `new_root`).
pub fn verify_consistency(
    old_root: &Hash,
    old_size: u64,
    new_root: &Hash,
    new_size: u64,
    proof: &ConsistencyProof<Sha256>,
) -> bool {
    let old = RootHash::<Sha256>::new((*old_root).into(), old_size);
    RootHash::<Sha256>::new((*new_root).into(), new_size)
        .verify_consistency(&old, proof)
        .is_ok()
}

/// Append leaf `idx` (which must be the next one) and store every perfect
/// subtree it completes.
pub fn append(conn: &Connection, idx: u64, leaf: Hash) -> Result<()> {
    let store = Stored(conn);
    let (mut hash, mut level, mut j) = (leaf, 0u32, idx);
    while j & 1 == 1 {
        let left = store.node(level, j - 1)?.ok_or_else(|| {
            Error::tampered(format!(
                "the audit tree is missing the node before event {}",
                idx + 1
            ))
        })?;
        hash = parent_hash(&left, &hash);
        level += 1;
        j >>= 1;
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![level, j as i64, hash.to_vec()])?;
        if inserted == 0 {
            // The node exists already: the events it covered were deleted.
            return Err(Error::tampered(format!(
                "the audit tree already holds events after event {idx} (events were deleted)"
            )));
        }
    }
    Ok(())
}

/// The tree as stored: leaves in `audit_events` (or, once archived, at
/// level 0 of `audit_nodes`), perfect subtrees in `audit_nodes`.
pub struct Stored<'a>(pub &'a Connection);

impl Nodes for Stored<'_> {
    fn node(&self, level: u32, idx: u64) -> Result<Option<Hash>> {
        let found: Option<Vec<u8>> = if level == 0 {
            let live = self
                .0
                .prepare_cached("SELECT leaf FROM audit_events WHERE seq = ?1")?
                .query_row([idx as i64 + 1], |r| r.get(0))
                .optional()?;
            match live {
                Some(h) => Some(h),
                None => self.stored(0, idx)?,
            }
        } else {
            self.stored(level, idx)?
        };
        found.map(to_hash).transpose()
    }
}

impl Stored<'_> {
    fn stored(&self, level: u32, idx: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .0
            .prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level, idx as i64], |r| r.get(0))
            .optional()?)
    }
}

/// A stored hash must be 32 bytes; anything else was written outside Kinko.
pub fn to_hash(v: Vec<u8>) -> Result<Hash> {
    v.try_into()
        .map_err(|_| Error::tampered("an audit tree hash is not 32 bytes"))
}

/// A tree built in memory from the leaves, level by level, as verification
/// recomputes it.
#[derive(Default)]
pub struct Rebuilt {
    /// `levels[k][i]`: the perfect subtree of `2^k` leaves starting at leaf
    /// `i << k`.
    pub levels: Vec<Vec<Hash>>,
}

impl Rebuilt {
    /// Add the next leaf and every perfect subtree it completes.
    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let row = &self.levels[level];
            let joined = parent_hash(&row[row.len() - 2], &row[row.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(joined);
            level += 1;
        }
    }

    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Nodes for Rebuilt {
    fn node(&self, level: u32, idx: u64) -> Result<Option<Hash>> {
        Ok(self
            .levels
            .get(level as usize)
            .and_then(|l| l.get(idx as usize))
            .copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ct_merkle::mem_backed_tree::MemoryBackedTree;
    use proptest::prelude::*;

    fn trees(n: u64) -> (Rebuilt, MemoryBackedTree<Sha256, Vec<u8>>) {
        let mut ours = Rebuilt::default();
        let mut theirs = MemoryBackedTree::<Sha256, Vec<u8>>::new();
        for i in 0..n {
            let bytes = format!("event {i}").into_bytes();
            ours.push(leaf_hash(&bytes));
            theirs.push(bytes);
        }
        (ours, theirs)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Roots and proofs from stored subtrees equal those of ct-merkle's
        /// own in-memory tree, and verify with its verifier.
        #[test]
        fn stored_subtrees_give_the_rfc_6962_tree(n in 1u64..300, pick in 0u64..1000, old_pick in 0u64..1000) {
            let (ours, theirs) = trees(n);
            let r = root(&ours, n).unwrap();
            let their_root = theirs.root();
            prop_assert_eq!(&r[..], &their_root.as_bytes()[..]);
            let idx = pick % n;
            let proof = inclusion_proof(&ours, n, idx).unwrap();
            let their_proof = theirs.prove_inclusion(idx as usize);
            prop_assert_eq!(proof.as_bytes(), their_proof.as_bytes());
            let leaf = format!("event {idx}").into_bytes();
            prop_assert!(verify_inclusion(&r, n, &leaf, idx, &proof));
            prop_assert!(!verify_inclusion(&r, n, b"another event", idx, &proof));
            let old = 1 + old_pick % n;
            let old_root = root(&ours, old).unwrap();
            let cproof = consistency_proof(&ours, old, n).unwrap();
            prop_assert!(verify_consistency(&old_root, old, &r, n, &cproof));
            if old < n {
                prop_assert!(!verify_consistency(&leaf_hash(b"x"), old, &r, n, &cproof));
            }
        }
    }

    #[test]
    fn empty_tree_root_is_the_hash_of_nothing() {
        assert_eq!(root(&Rebuilt::default(), 0).unwrap(), empty_root());
    }
}
