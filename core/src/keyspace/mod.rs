//! The keyspace: 16 logical databases of keys.
//!
//! Temporary in-memory map for the foundation; the keyspace-on-redb work replaces it with
//! tables in a redb database behind the same methods.

use std::collections::HashMap;

/// Number of logical databases (`SELECT 0`..`15`).
pub const DATABASES: usize = 16;

/// All keys of all logical databases.
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<HashMap<Vec<u8>, Vec<u8>>>,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace {
            dbs: (0..DATABASES).map(|_| HashMap::new()).collect(),
        }
    }
}

impl Keyspace {
    /// The string value at `key`, if any.
    pub fn get(&self, db: usize, key: &[u8]) -> Option<&[u8]> {
        self.dbs[db].get(key).map(Vec::as_slice)
    }

    /// Sets `key` to `value`, replacing what was there.
    pub fn set(&mut self, db: usize, key: &[u8], value: &[u8]) {
        self.dbs[db].insert(key.to_vec(), value.to_vec());
    }

    /// Removes `key`; true if it existed.
    pub fn remove(&mut self, db: usize, key: &[u8]) -> bool {
        self.dbs[db].remove(key).is_some()
    }

    /// Whether `key` exists.
    pub fn contains(&self, db: usize, key: &[u8]) -> bool {
        self.dbs[db].contains_key(key)
    }
}
