//! Hash fields, set members and sorted-set members by name, as the commands see them. Their rows
//! are keyed `[slot u64 BE][member]` under the collection's key, so they sit in hash order and a
//! HSCAN/SSCAN/ZSCAN cursor is "the next slot to visit", like SCAN's. This file is the only
//! place that builds or reads those row keys.

use super::{slot_of, ElemRange, ElemTable, Keyspace};
use crate::storage::StorageError;

/// Which collection's member rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Hash fields → values.
    Hash,
    /// Set members → nothing.
    Set,
    /// Sorted-set members → scores (their score order is `zset.rs`'s business).
    ZSet,
}

/// A member and its row's value (a hash field's value, a sorted-set member's score bytes).
pub type Member = (Vec<u8>, Vec<u8>);

impl Members {
    fn table(self) -> ElemTable {
        match self {
            Members::Hash => ElemTable::HashFields,
            Members::Set => ElemTable::SetMembers,
            Members::ZSet => ElemTable::ZMembers,
        }
    }
}

/// The row key of `member`.
pub(crate) fn slotted(member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + member.len());
    out.extend_from_slice(&slot_of(member).to_be_bytes());
    out.extend_from_slice(member);
    out
}

/// The member of a row key written by [`slotted`].
pub(crate) fn unslotted(row: &[u8]) -> &[u8] {
    row.get(8..).unwrap_or_default()
}

fn slot_of_row(row: &[u8]) -> Option<u64> {
    row.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
}

fn members_of(rows: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<Member> {
    rows.into_iter()
        .map(|(row, value)| (unslotted(&row).to_vec(), value))
        .collect()
}

impl Keyspace<'_, '_> {
    /// `member`'s value, if present.
    pub fn member_get(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
        member: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.elem_get(of.table(), db, key, &slotted(member))
    }

    /// Writes `member`'s value; returns the old one.
    pub fn member_put(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
        member: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.elem_put(of.table(), db, key, &slotted(member), value)
    }

    /// Writes `member`'s value in a collection of `count` members (which lets the record cache
    /// answer for a member it does not hold); returns the old value.
    pub fn member_upsert(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
        member: &[u8],
        value: &[u8],
        count: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.elem_upsert(of.table(), db, key, &slotted(member), value, count)
    }

    /// Removes `member`; returns its value if it was there.
    pub fn member_remove(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
        member: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.elem_remove(of.table(), db, key, &slotted(member))
    }

    /// Every member with its value, in hash order.
    pub fn members(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
    ) -> Result<Vec<Member>, StorageError> {
        let rows = self.elem_range(of.table(), db, key, ElemRange::all(usize::MAX))?;
        Ok(members_of(rows))
    }

    /// The first member at or after the hash point `point`, wrapping around (a random pick
    /// when `point` is random, like RANDOMKEY's).
    pub fn member_at_or_after(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
        point: u64,
    ) -> Result<Option<Member>, StorageError> {
        let from = point.to_be_bytes();
        let range = ElemRange {
            from: Some(&from),
            ..ElemRange::all(1)
        };
        let mut rows = self.elem_range(of.table(), db, key, range)?;
        if rows.is_empty() {
            rows = self.elem_range(of.table(), db, key, ElemRange::all(1))?;
        }
        Ok(members_of(rows).into_iter().next())
    }

    /// One step of HSCAN/SSCAN/ZSCAN: the members from `cursor` (a slot) on, at least `count` of
    /// them unless the end comes first, and the next cursor (0 at the end). Members sharing a
    /// slot come back together. Small collections (up to 128 members, Redis's listpack size)
    /// come back whole, as in Redis.
    pub fn members_scan(
        &mut self,
        of: Members,
        db: usize,
        key: &[u8],
        total: u64,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<Member>, u64), StorageError> {
        if total <= 128 {
            return Ok((self.members(of, db, key)?, 0));
        }
        let from = cursor.to_be_bytes();
        let range = ElemRange {
            from: Some(&from),
            ..ElemRange::all(count + 1)
        };
        let mut rows = self.elem_range(of.table(), db, key, range)?;
        // Keep members sharing the boundary slot together: stop before the first row whose
        // slot differs from the last kept one.
        let next = if rows.len() > count {
            let boundary = slot_of_row(&rows[count].0);
            let mut keep = count;
            while keep > 0 && slot_of_row(&rows[keep - 1].0) == boundary {
                keep -= 1;
            }
            if keep == 0 {
                // Many members in one slot: take them all.
                return Ok((members_of(rows), boundary.unwrap_or(0).saturating_add(1)));
            }
            rows.truncate(keep);
            boundary.unwrap_or(0)
        } else {
            0
        };
        Ok((members_of(rows), next))
    }
}
