//! Redis 7.0's own description of its commands, as `COMMAND INFO` and `COMMAND DOCS` print it
//! (flags, ACL categories, tips, key specs, subcommands, summaries, arguments, history), so
//! DiskDB's COMMAND replies are Redis's for every command it implements.
//!
//! `redis-commands.resp` is written by `scripts/gen-command-catalogue.py` from a running
//! redis-server 7.0 (BSD-3-Clause): a RESP3 stream of `*3 <name> <info> <docs>`, one entry per
//! top-level command, sorted by name. Carrying Redis's answers rather than re-typing ~240
//! commands' metadata keeps it exact; a test checks that the flags DiskDB admits commands by
//! agree with it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use crate::commands::flags;
use crate::protocol::Reply;

static DATA: &[u8] = include_bytes!("redis-commands.resp");

/// One command's (or subcommand's) byte ranges in [`DATA`].
#[derive(Debug, Clone)]
pub struct Entry {
    info: Range<usize>,
    docs: Option<Range<usize>>,
    /// Full names (`config|get`) of a container's subcommands, in Redis's order.
    pub subcommands: Vec<String>,
}

/// A RESP3 element's type byte, its length or count, and where its body starts.
fn head(at: usize) -> (u8, i64, usize) {
    let end = DATA[at..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(DATA.len(), |p| at + p);
    let n = std::str::from_utf8(&DATA[at + 1..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (DATA[at], n, end + 2)
}

/// Where the element starting at `at` ends.
fn skip(at: usize) -> usize {
    let (kind, n, body) = head(at);
    match kind {
        b'$' | b'=' | b'!' if n >= 0 => body + n as usize + 2,
        b'*' | b'~' | b'>' if n > 0 => (0..n).fold(body, |pos, _| skip(pos)),
        b'%' | b'|' if n > 0 => (0..2 * n).fold(body, |pos, _| skip(pos)),
        _ => body,
    }
}

/// The bytes of a bulk or simple string element.
fn text(at: usize) -> &'static [u8] {
    let (kind, n, body) = head(at);
    match kind {
        b'$' => &DATA[body..body + n.max(0) as usize],
        _ => &DATA[at + 1..body - 2],
    }
}

/// The elements of the aggregate at `at` (a map's keys and values alternate).
fn children(at: usize) -> Vec<usize> {
    let (kind, n, body) = head(at);
    let count = match kind {
        b'%' | b'|' => 2 * n,
        _ => n,
    };
    let mut out = Vec::with_capacity(count.max(0) as usize);
    let mut pos = body;
    for _ in 0..count.max(0) {
        out.push(pos);
        pos = skip(pos);
    }
    out
}

/// A map's value for `key`.
fn field(map: usize, key: &[u8]) -> Option<usize> {
    children(map)
        .chunks(2)
        .find(|kv| text(kv[0]) == key)
        .map(|kv| kv[1])
}

fn index() -> &'static HashMap<String, Entry> {
    static INDEX: OnceLock<HashMap<String, Entry>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map = HashMap::new();
        let mut pos = 0;
        while pos < DATA.len() {
            let parts = children(pos);
            pos = skip(pos);
            let [name, info, docs] = parts[..] else {
                continue;
            };
            let name = String::from_utf8_lossy(text(name)).into_owned();
            let sub_docs = field(docs, b"subcommands");
            let mut subcommands = Vec::new();
            if let Some(&subs) = children(info).get(9) {
                for sub in children(subs) {
                    let Some(&sub_name) = children(sub).first() else {
                        continue;
                    };
                    let sub_name = String::from_utf8_lossy(text(sub_name)).into_owned();
                    let docs = sub_docs.and_then(|d| field(d, sub_name.as_bytes()));
                    map.insert(
                        sub_name.clone(),
                        Entry {
                            info: sub..skip(sub),
                            docs: docs.map(|d| d..skip(d)),
                            subcommands: Vec::new(),
                        },
                    );
                    subcommands.push(sub_name);
                }
            }
            map.insert(
                name,
                Entry {
                    info: info..skip(info),
                    docs: Some(docs..skip(docs)),
                    subcommands,
                },
            );
        }
        map
    })
}

/// Redis's entry for a command or `container|subcommand` (lowercase).
pub fn lookup(name: &str) -> Option<&'static Entry> {
    index().get(name)
}

impl Entry {
    /// Writes the `COMMAND INFO` element.
    pub fn write_info(&self, reply: &mut Reply) {
        write(reply, self.info.start);
    }

    /// Writes the `COMMAND DOCS` value (a map), if Redis documents this command.
    pub fn write_docs(&self, reply: &mut Reply) -> bool {
        match &self.docs {
            Some(docs) => {
                write(reply, docs.start);
                true
            }
            None => false,
        }
    }

    fn info_strings(&self, index: usize) -> Vec<&'static str> {
        children(self.info.start)
            .get(index)
            .map(|&set| {
                children(set)
                    .into_iter()
                    .filter_map(|s| std::str::from_utf8(text(s)).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The command's flags (`write`, `fast`, …).
    pub fn flags(&self) -> Vec<&'static str> {
        self.info_strings(2)
    }

    /// The command's ACL categories (`@read`, …).
    pub fn acl_categories(&self) -> Vec<&'static str> {
        self.info_strings(6)
    }
}

/// A key found in a command's arguments by Redis's key specs: its position and the spec's
/// flags (`RW`, `access`, ...).
pub type KeyRef = (usize, Vec<&'static str>);

impl Entry {
    /// The command's arity (negative: at least that many arguments).
    pub fn arity(&self) -> i64 {
        match children(self.info.start).get(1).map(|&a| head(a)) {
            Some((b':', n, _)) => n,
            _ => 0,
        }
    }

    /// Whether the command takes keys (a key spec that is not `not_key`).
    pub fn has_keys(&self) -> bool {
        children(self.info.start).get(8).is_some_and(|&specs| {
            children(specs).into_iter().any(|spec| {
                !field(spec, b"flags")
                    .is_some_and(|f| children(f).into_iter().any(|x| text(x) == b"not_key"))
            })
        })
    }

    /// Redis's `getKeysUsingKeySpecs` on `argv` (the command's name first): `None` where a spec
    /// does not fit the arguments (Redis then falls back to the command's own key finder, which
    /// for the commands DiskDB has finds no keys either).
    pub fn keys(&self, argv: &[&[u8]]) -> Option<Vec<KeyRef>> {
        let specs = children(self.info.start).get(8).map(|&s| children(s))?;
        let argc = argv.len() as i64;
        let int = |map: usize, key: &[u8]| -> i64 { field(map, key).map_or(0, |v| head(v).1) };
        let mut keys = Vec::new();
        for spec in specs {
            let flags: Vec<&'static str> = field(spec, b"flags")
                .map(|f| {
                    children(f)
                        .into_iter()
                        .filter_map(|s| std::str::from_utf8(text(s)).ok())
                        .collect()
                })
                .unwrap_or_default();
            if flags.contains(&"not_key") {
                continue;
            }
            let begin = field(spec, b"begin_search")?;
            let begin_spec = field(begin, b"spec")?;
            let mut first = match text(field(begin, b"type")?) {
                b"index" => int(begin_spec, b"index"),
                b"keyword" => {
                    let keyword = text(field(begin_spec, b"keyword")?);
                    let from = int(begin_spec, b"startfrom");
                    let (start, end) = if from > 0 {
                        (from, argc - 1)
                    } else {
                        (argc + from, 1)
                    };
                    let mut found = 0;
                    let mut i = start;
                    while i != end {
                        if i >= argc || i < 1 {
                            break;
                        }
                        if argv[i as usize].eq_ignore_ascii_case(keyword) {
                            found = i + 1;
                            break;
                        }
                        i += if start <= end { 1 } else { -1 };
                    }
                    if found == 0 {
                        continue;
                    }
                    found
                }
                _ => return None,
            };
            let find = field(spec, b"find_keys")?;
            let find_spec = field(find, b"spec")?;
            let (last, step) = match text(field(find, b"type")?) {
                b"range" => {
                    let (lastkey, limit) = (int(find_spec, b"lastkey"), int(find_spec, b"limit"));
                    let last = if lastkey >= 0 {
                        first + lastkey
                    } else if limit == 0 {
                        argc + lastkey
                    } else {
                        first + ((argc - first) / limit + lastkey)
                    };
                    (last, int(find_spec, b"keystep"))
                }
                b"keynum" => {
                    let at = first + int(find_spec, b"keynumidx");
                    let numkeys: i64 = std::str::from_utf8(argv.get(at as usize)?)
                        .ok()?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 0)?;
                    first += int(find_spec, b"firstkey");
                    (first + numkeys - 1, int(find_spec, b"keystep"))
                }
                _ => return None,
            };
            if last >= argc || last < first || first >= argc || step < 1 {
                return None;
            }
            let mut i = first;
            while i <= last {
                keys.push((i as usize, flags.clone()));
                i += step;
            }
        }
        Some(keys)
    }
}

/// The flags (as `flags::*` bits) of a container's subcommand, `None` if Redis has no such
/// subcommand.
pub fn subcommand_flags(container: &str, sub: &[u8]) -> Option<u32> {
    static FLAGS: OnceLock<HashMap<String, u32>> = OnceLock::new();
    let flags = FLAGS.get_or_init(|| {
        index()
            .iter()
            .filter(|(name, _)| name.contains('|'))
            .map(|(name, entry)| (name.clone(), bits(&entry.flags())))
            .collect()
    });
    let name = format!(
        "{container}|{}",
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    );
    flags.get(&name).copied()
}

/// Flag names as `flags::*` bits.
fn bits(names: &[&str]) -> u32 {
    flags::NAMES
        .iter()
        .filter(|(_, name)| names.contains(name))
        .fold(0, |acc, (bit, _)| acc | bit)
}

/// Re-emits the element at `at` through `reply`, which writes RESP2's forms (arrays for maps
/// and sets) to a RESP2 client.
fn write(reply: &mut Reply, at: usize) {
    let (kind, n, _) = head(at);
    match kind {
        b'*' => reply.array(n.max(0) as usize),
        b'~' => reply.set(n.max(0) as usize),
        b'%' => reply.map(n.max(0) as usize),
        b':' => return reply.integer(n),
        b'$' => return reply.bulk(text(at)),
        b'+' => return reply.simple(std::str::from_utf8(text(at)).unwrap_or("")),
        _ => return reply.null(),
    }
    for child in children(at) {
        write(reply, child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_subcommand_of_redis_is_indexed() {
        let top = index().keys().filter(|k| !k.contains('|')).count();
        assert_eq!(top, 240);
        assert_eq!(index().len(), 366);
        let config = lookup("config").unwrap();
        assert!(config.subcommands.iter().any(|s| s == "config|get"));
        assert_eq!(lookup("get").unwrap().flags(), ["readonly", "fast"]);
        assert_eq!(
            lookup("get").unwrap().acl_categories(),
            ["@read", "@string", "@fast"]
        );
    }

    #[test]
    fn info_and_docs_replay_redis_bytes_in_resp3_and_downgrade_in_resp2() {
        let get = lookup("get").unwrap();
        let mut r3 = Reply::new();
        r3.set_protocol(crate::protocol::reply::Protocol::Resp3);
        get.write_info(&mut r3);
        assert_eq!(r3.as_bytes(), &DATA[get.info.clone()]);
        let mut r2 = Reply::new();
        get.write_info(&mut r2);
        assert!(r2
            .as_bytes()
            .starts_with(b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly"));
    }

    /// The flags DiskDB admits commands by are Redis's, for every command it implements.
    #[test]
    fn implemented_commands_carry_redis_flags() {
        let mut wrong = Vec::new();
        for spec in crate::commands::all() {
            let Some(entry) = lookup(spec.name) else {
                wrong.push(format!("{}: not a Redis 7.0 command", spec.name));
                continue;
            };
            if spec.has(flags::SUBCOMMANDS) == entry.subcommands.is_empty() {
                wrong.push(format!(
                    "{}: SUBCOMMANDS does not say if it has any",
                    spec.name
                ));
            }
            let redis: Vec<&str> = entry.flags();
            for (flag, name) in flags::NAMES {
                if spec.has(*flag) != redis.contains(name) {
                    wrong.push(format!(
                        "{}: {name} is {} in DiskDB",
                        spec.name,
                        if spec.has(*flag) { "set" } else { "unset" }
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
