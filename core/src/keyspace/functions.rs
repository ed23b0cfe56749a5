//! The function libraries (FUNCTION LOAD) kept in the database: table `functions`, library name
//! → its code, so they survive restarts and travel with the database file, as Redis keeps them
//! in its RDB. The table is small and rarely written, so it is opened per call.

use redb::{ReadableTable, TableDefinition};

use super::Keyspace;
use crate::storage::StorageError;

const FUNCTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("functions");

impl Keyspace<'_, '_> {
    /// Every library, by name.
    pub fn function_libraries(&mut self) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let table = self.txn.open_table(FUNCTIONS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (name, code) = row?;
            out.push((name.value().to_owned(), code.value().to_vec()));
        }
        Ok(out)
    }

    pub fn put_function_library(&mut self, name: &str, code: &[u8]) -> Result<(), StorageError> {
        self.txn.open_table(FUNCTIONS)?.insert(name, code)?;
        self.changed = true;
        Ok(())
    }

    pub fn delete_function_library(&mut self, name: &str) -> Result<(), StorageError> {
        self.txn.open_table(FUNCTIONS)?.remove(name)?;
        self.changed = true;
        Ok(())
    }

    pub fn clear_function_libraries(&mut self) -> Result<(), StorageError> {
        let mut table = self.txn.open_table(FUNCTIONS)?;
        table.retain(|_, _| false)?;
        self.changed = true;
        Ok(())
    }
}
