//! The backend seam (`http/CLUSTER.md`, "Records"): the handful of ordered
//! key-value calls every storage trait is written in, answered by sled on
//! one node or by PostgreSQL's `kv` table in a cluster. Keys, codecs and
//! the tenant prefix stay the same on both; only these calls differ.
//!
//! Writes are not here: they go through the [`crate::Writer`] (group commit)
//! or [`crate::Store::write_now`], which know each backend's durability.

use crate::postgres::records::{self, Pool};
use crate::Result;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// A stored key or value (sled's cheap, shareable buffer on both backends).
pub type Bytes = sled::IVec;

/// One of the two trees (`data` or `global`), on either backend.
#[derive(Clone)]
pub struct Tree(Backend);

#[derive(Clone)]
enum Backend {
    Sled(sled::Tree),
    Postgres { pool: Arc<Pool>, tree: i16 },
}

impl Tree {
    pub(crate) fn sled(t: sled::Tree) -> Self {
        Self(Backend::Sled(t))
    }

    pub(crate) fn postgres(pool: Arc<Pool>, tree: i16) -> Self {
        Self(Backend::Postgres { pool, tree })
    }

    /// The sled tree underneath, on the single-node backend.
    pub(crate) fn as_sled(&self) -> Option<&sled::Tree> {
        match &self.0 {
            Backend::Sled(t) => Some(t),
            Backend::Postgres { .. } => None,
        }
    }

    /// The value at `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        match &self.0 {
            Backend::Sled(t) => Ok(t.get(key)?),
            Backend::Postgres { pool, tree } => pool.get(*tree, key.as_ref()),
        }
    }

    /// The values at `keys`, in their order: one round trip on PostgreSQL
    /// where `get` would make one a key.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>> {
        match &self.0 {
            Backend::Sled(t) => keys.iter().map(|k| Ok(t.get(k)?)).collect(),
            Backend::Postgres { pool, tree } if !keys.is_empty() => pool.get_many(*tree, keys),
            Backend::Postgres { .. } => Ok(Vec::new()),
        }
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Every key starting with `prefix`, in key order (either end first).
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        match &self.0 {
            Backend::Sled(t) => Iter(Scan::Sled(t.scan_prefix(prefix))),
            Backend::Postgres { pool, tree } => {
                let p = prefix.as_ref().to_vec();
                let hi = match successor(&p) {
                    Some(s) => Bound::Excluded(s),
                    None => Bound::Unbounded,
                };
                self.pg_scan(pool, *tree, Bound::Included(p), hi)
            }
        }
    }

    /// Every key within `range`, in key order (either end first).
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        match &self.0 {
            Backend::Sled(t) => Iter(Scan::Sled(t.range(range))),
            Backend::Postgres { pool, tree } => {
                let own = |b: Bound<&K>| match b {
                    Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
                    Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
                    Bound::Unbounded => Bound::Unbounded,
                };
                self.pg_scan(
                    pool,
                    *tree,
                    own(range.start_bound()),
                    own(range.end_bound()),
                )
            }
        }
    }

    /// Every key of the tree, in key order.
    pub fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// How many keys the tree holds (a full count: not for hot paths).
    pub fn len(&self) -> Result<usize> {
        match &self.0 {
            Backend::Sled(t) => Ok(t.len()),
            Backend::Postgres { pool, tree } => pool.count(*tree),
        }
    }

    /// Whether the tree holds no key.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.iter().next().transpose()?.is_none())
    }

    fn pg_scan(&self, pool: &Arc<Pool>, tree: i16, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Iter {
        Iter(Scan::Postgres(records::Scan::new(
            pool.clone(),
            tree,
            lo,
            hi,
        )))
    }
}

/// The smallest key greater than every key starting with `prefix`: the
/// prefix with its last byte below 0xFF incremented and the rest cut off.
/// `None` when there is none (empty, or all 0xFF).
pub(crate) fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xFF {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// Keys and values in key order, fetched lazily from either end.
pub struct Iter(Scan);

enum Scan {
    Sled(sled::Iter),
    Postgres(records::Scan),
}

impl Iter {
    /// Only the keys (the values are not fetched where that saves work).
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<Bytes>> {
        let inner = match self.0 {
            Scan::Postgres(s) => Scan::Postgres(s.keys_only()),
            other => other,
        };
        Iter(inner).map(|kv| kv.map(|(k, _)| k))
    }
}

impl Iterator for Iter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Scan::Sled(i) => i.next().map(|kv| kv.map_err(Into::into)),
            Scan::Postgres(s) => s.next(),
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Scan::Sled(i) => i.next_back().map(|kv| kv.map_err(Into::into)),
            Scan::Postgres(s) => s.next_back(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn a_prefix_ends_where_its_successor_begins() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[0xFF, 0xFF]), None);
        assert_eq!(successor(&[]), None);
    }
}
