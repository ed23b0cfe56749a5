//! Command errors, with Redis's exact reply texts in one place (like Redis's `shared.*err`).

use std::borrow::Cow;

/// A command failed; the client gets `-` + [`CommandError::reply_text`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(&'static str),
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR invalid cursor")]
    InvalidCursor,
    #[error("ERR invalid {0} DB index")]
    InvalidDbIndex(&'static str),
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR source and destination objects are the same")]
    SameObject,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    #[error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")]
    NoLfu,
    #[error("ERR Unsupported option {}", String::from_utf8_lossy(.0))]
    UnsupportedOption(Vec<u8>),
    /// A fixed text (with its error code) used by one command only.
    #[error("{0}")]
    Static(&'static str),
    /// The store failed; the command (and its group) had no effect.
    #[error("ERR DiskDB storage error: {0}")]
    Storage(String),
    /// A write failed because the disk is full: the command (and its group) had no effect.
    /// Redis answers `MISCONF` when it cannot persist; so does DiskDB (`docs/storage.md`).
    #[error("MISCONF disk full, writes fail until space is freed (reads work): {0}")]
    DiskFull(String),
    /// A message built from client bytes (which need not be UTF-8), e.g. an unknown command.
    #[error("{}", String::from_utf8_lossy(.0))]
    Raw(Cow<'static, [u8]>),
}

impl CommandError {
    /// An error whose text is built at run time (with its code, without the leading `-`).
    pub fn owned(text: String) -> Self {
        CommandError::Raw(Cow::Owned(text.into_bytes()))
    }

    /// The error reply without the leading `-`.
    pub fn reply_text(&self) -> Cow<'_, [u8]> {
        match self {
            CommandError::Raw(bytes) => Cow::Borrowed(bytes),
            other => Cow::Owned(other.to_string().into_bytes()),
        }
    }

    /// Redis's reply to an unknown subcommand of a container command (OBJECT, CONFIG, ...): the
    /// subcommand cut at a NUL byte and at 128 bytes, the container's name upper-cased.
    pub fn unknown_subcommand(container: &[u8], sub: &[u8]) -> Self {
        let sub = &sub[..memchr::memchr(0, sub).unwrap_or(sub.len())];
        let mut msg = b"ERR unknown subcommand '".to_vec();
        msg.extend_from_slice(&sub[..sub.len().min(128)]);
        msg.extend_from_slice(b"'. Try ");
        msg.extend(container.iter().map(u8::to_ascii_uppercase));
        msg.extend_from_slice(b" HELP.");
        CommandError::Raw(Cow::Owned(msg))
    }

    /// Redis's reply to an unknown command: the name and the first arguments, each cut at a NUL
    /// byte (Redis formats them with `%s`) and the whole kept near 128 bytes.
    pub fn unknown_command(argv: &dyn crate::protocol::Argv) -> Self {
        fn c_str(bytes: &[u8]) -> &[u8] {
            &bytes[..memchr::memchr(0, bytes).unwrap_or(bytes.len())]
        }
        let name = c_str(argv.arg(0));
        let mut msg = b"ERR unknown command '".to_vec();
        msg.extend_from_slice(&name[..name.len().min(128)]);
        msg.extend_from_slice(b"', with args beginning with: ");
        let mut args = Vec::new();
        for i in 1..argv.argc() {
            if args.len() >= 128 {
                break;
            }
            let arg = c_str(argv.arg(i));
            let room = 128 - args.len();
            args.push(b'\'');
            args.extend_from_slice(&arg[..arg.len().min(room)]);
            args.extend_from_slice(b"' ");
        }
        msg.extend_from_slice(&args);
        CommandError::Raw(Cow::Owned(msg))
    }
}

/// What a command returns: its reply is already written, or it failed before writing one.
pub type CommandResult = Result<(), CommandError>;

impl From<crate::storage::StorageError> for CommandError {
    fn from(err: crate::storage::StorageError) -> Self {
        CommandError::from(&err)
    }
}

impl From<&crate::storage::StorageError> for CommandError {
    fn from(err: &crate::storage::StorageError) -> Self {
        if err.is_disk_full() {
            CommandError::DiskFull(err.to_string())
        } else {
            CommandError::Storage(err.to_string())
        }
    }
}
