//! The seal: a checksum of the whole database file, written when DiskDB closes it cleanly and
//! checked when it opens it again, so that a file damaged while no DiskDB had it open (a bad
//! disk, a stray write, a bit flipped on a backup's way back) is found before any value is read
//! from it.
//!
//! redb keeps a checksum of every page in its parent, but checks them only when it must repair
//! (after an unclean shutdown) or when asked ([`crate::storage::verify_pages`]), and checking
//! them reads and hashes the tree page by page. One sequential CRC of the file is far cheaper,
//! so it runs at every start; the page check runs only when the seal is missing or differs.
//!
//! The file `diskdb.seal` beside the database is plain text:
//!
//! ```text
//! diskdb-seal 1
//! bytes <length of diskdb.redb>
//! crc32 <CRC-32 of diskdb.redb, 8 hex digits>
//! ```
//!
//! or, once a start found the file damaged and redb rolled it back (see [`mark_damaged`]):
//!
//! ```text
//! diskdb-seal 1
//! damaged <what was found>
//! ```
//!
//! Invariants: the seal is written only after redb closed the file (closing rewrites redb's
//! header), and deleted as soon as DiskDB opened the file, before anything is written to it; so
//! a present seal that matches means nothing touched the file since a clean close. A seal left
//! behind by a crash between opening and its deletion only differs, which costs a page check.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::storage::{sync_dir, DB_FILE};

/// The seal's name inside the data directory.
pub const SEAL_FILE: &str = "diskdb.seal";

const MAGIC: &str = "diskdb-seal 1";

/// What the seal says about the database file as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    /// No seal: the last run did not close the file cleanly (or the file is new).
    Absent,
    /// The file is byte for byte what the last clean close left.
    Matches,
    /// The file changed since its clean close (or the seal is unreadable).
    Differs,
    /// An earlier start found the file damaged and refused it; the text says what it found.
    Damaged(String),
}

fn path(dir: &Path) -> PathBuf {
    dir.join(SEAL_FILE)
}

/// CRC-32 and length of the database file of `dir`.
fn checksum(dir: &Path) -> std::io::Result<(u64, u32)> {
    let mut file = std::fs::File::open(dir.join(DB_FILE))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hasher.finalize()))
}

/// Compares the database file of `dir` with its seal.
pub fn check(dir: &Path) -> std::io::Result<Seal> {
    let text = match std::fs::read_to_string(path(dir)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Seal::Absent),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Ok(Seal::Differs),
        Err(e) => return Err(e),
    };
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Ok(Seal::Differs);
    }
    let (mut bytes, mut crc) = (None, None);
    for line in lines {
        match line.split_once(' ') {
            Some(("damaged", what)) => return Ok(Seal::Damaged(what.to_string())),
            Some(("bytes", n)) => bytes = n.parse::<u64>().ok(),
            Some(("crc32", n)) => crc = u32::from_str_radix(n, 16).ok(),
            _ => {}
        }
    }
    let (Some(bytes), Some(crc)) = (bytes, crc) else {
        return Ok(Seal::Differs);
    };
    if std::fs::metadata(dir.join(DB_FILE))?.len() != bytes {
        return Ok(Seal::Differs);
    }
    Ok(if checksum(dir)? == (bytes, crc) {
        Seal::Matches
    } else {
        Seal::Differs
    })
}

/// Seals the database file of `dir`, which redb has closed: the seal is durable when this
/// returns.
pub fn write(dir: &Path) -> std::io::Result<()> {
    let (bytes, crc) = checksum(dir)?;
    replace(dir, &format!("{MAGIC}\nbytes {bytes}\ncrc32 {crc:08x}\n"))
}

/// Records that the file was found damaged, so that every later start refuses it too until the
/// operator decides (the page check that found the damage may have rolled the file back, after
/// which it would pass).
pub fn mark_damaged(dir: &Path, what: &str) -> std::io::Result<()> {
    let what = what.replace('\n', " ");
    replace(dir, &format!("{MAGIC}\ndamaged {what}\n"))
}

/// Deletes the seal: the file is about to change.
pub fn remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path(dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn replace(dir: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{SEAL_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path(dir))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("diskdb-seal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(DB_FILE), vec![7u8; 3 << 20]).unwrap();
        dir
    }

    #[test]
    fn a_sealed_file_matches_until_one_byte_changes() {
        let dir = dir("flip");
        assert_eq!(check(&dir).unwrap(), Seal::Absent);
        write(&dir).unwrap();
        assert_eq!(check(&dir).unwrap(), Seal::Matches);
        let mut bytes = std::fs::read(dir.join(DB_FILE)).unwrap();
        bytes[2 << 20] ^= 1;
        std::fs::write(dir.join(DB_FILE), &bytes).unwrap();
        assert_eq!(check(&dir).unwrap(), Seal::Differs);
        bytes.pop();
        std::fs::write(dir.join(DB_FILE), &bytes).unwrap();
        assert_eq!(check(&dir).unwrap(), Seal::Differs);
        remove(&dir).unwrap();
        assert_eq!(check(&dir).unwrap(), Seal::Absent);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_mark_is_kept_and_an_unreadable_seal_differs() {
        let dir = dir("mark");
        mark_damaged(&dir, "pages\nrolled back").unwrap();
        assert_eq!(
            check(&dir).unwrap(),
            Seal::Damaged("pages rolled back".into())
        );
        std::fs::write(path(&dir), b"garbage\xff").unwrap();
        assert_eq!(check(&dir).unwrap(), Seal::Differs);
        std::fs::write(path(&dir), format!("{MAGIC}\nbytes 12\n")).unwrap();
        assert_eq!(check(&dir).unwrap(), Seal::Differs);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
