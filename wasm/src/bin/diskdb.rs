//! `diskdb`: DiskDB as a command, built for wasm32-wasip1 to run under wasmtime (it also builds
//! natively). Requests come on standard input, replies go to standard output:
//!
//! ```sh
//! printf 'SET a 1\nGET a\n' | wasmtime run --dir ./data::/data diskdb.wasm --dir /data
//! ```
//!
//! Input is what a Redis server reads: inline lines (redis-cli's quoting) or RESP multibulk,
//! mixed freely. Output is RESP, byte for byte what `diskdb-server` would send, or with `--text`
//! the way an interactive redis-cli prints replies. Arguments after the options are run as one
//! command instead of reading standard input. The data directory holds the same files as the
//! native server's (`diskdb.redb`, `diskdb.wal`), so either can open what the other wrote.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use diskdb_core::{Durability, Engine, EngineConfig, Store};
use diskdb_wasm::resp;
use diskdb_wasm::shell::Shell;

const USAGE: &str = "\
usage: diskdb [--dir PATH] [--storage file|memory] [--durability always|everysec|no] [--text]
              [COMMAND ARG...]

Runs DiskDB commands read from standard input (inline lines like redis-cli, or RESP) and writes
the replies to standard output, in RESP (default) or, with --text, as redis-cli prints them.
With COMMAND ARG... it runs that one command instead.

  --dir PATH        data directory (default ./data; under WASI, inside a preopened directory)
  --storage S       file (default) or memory (nothing kept after exit)
  --durability M    always (default): each batch of input is on disk before its replies;
                    everysec; no
  --text            print replies like redis-cli instead of RESP
";

/// Standard input is read and executed in chunks of this size: each chunk's complete requests
/// are one group (one commit), like one read from a socket in the server.
const CHUNK: usize = 64 * 1024;

struct Options {
    dir: PathBuf,
    memory: bool,
    durability: Durability,
    text: bool,
    command: Vec<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        dir: PathBuf::from("./data"),
        memory: false,
        durability: Durability::Always,
        text: false,
        command: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--dir" => options.dir = PathBuf::from(value("--dir")?),
            "--storage" => match value("--storage")?.as_str() {
                "file" => options.memory = false,
                "memory" => options.memory = true,
                other => return Err(format!("unknown storage '{other}' (file or memory)")),
            },
            "--durability" => options.durability = value("--durability")?.parse()?,
            "--text" => options.text = true,
            "-h" | "--help" => return Err(String::new()),
            "--" => {
                options.command.extend(args.by_ref());
            }
            other if other.starts_with("--") && options.command.is_empty() => {
                return Err(format!("unknown option {other}"))
            }
            _ => {
                options.command.push(arg);
                options.command.extend(args.by_ref());
            }
        }
    }
    Ok(options)
}

fn now_ms() -> i64 {
    // A clock before 1970 is a host misconfiguration; 0 keeps commands running.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes replies in the chosen format.
fn emit(out: &mut impl Write, replies: &[u8], text: bool) -> std::io::Result<()> {
    if !text {
        return out.write_all(replies);
    }
    match resp::decode_all(replies) {
        Ok(values) => {
            for value in values {
                writeln!(out, "{}", resp::to_cli_text(&value))?;
            }
            Ok(())
        }
        // Never expected (the engine's encoder wrote them); show the raw bytes rather than lose them.
        Err(_) => out.write_all(replies),
    }
}

fn run(options: Options) -> Result<(), String> {
    let store = if options.memory {
        Store::Memory
    } else {
        Store::Dir(options.dir.clone())
    };
    let engine = Engine::open(EngineConfig {
        store,
        durability: options.durability,
        ..EngineConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let mut shell = Shell::new(engine, now_ms(), "stdin");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io_err = |e: std::io::Error| format!("standard output: {e}");

    if !options.command.is_empty() {
        let reply = shell.execute(now_ms(), &options.command);
        emit(&mut out, &reply, options.text).map_err(io_err)?;
    } else {
        let mut input: Vec<u8> = Vec::with_capacity(CHUNK);
        let mut replies = Vec::new();
        let mut stdin = std::io::stdin().lock();
        let mut chunk = vec![0u8; CHUNK];
        let mut eof = false;
        loop {
            if !eof {
                let n = match stdin.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("standard input: {e}")),
                };
                eof = n == 0;
                input.extend_from_slice(&chunk[..n]);
            }
            if eof && !input.is_empty() && !input.ends_with(b"\n") && !input.starts_with(b"*") {
                // A last inline line without its newline is still a request.
                input.push(b'\n');
            }
            replies.clear();
            let done = shell.execute_pipeline(now_ms(), &input, &mut replies);
            emit(&mut out, &replies, options.text).map_err(io_err)?;
            out.flush().map_err(io_err)?;
            if done.quit || done.error.is_some() {
                break;
            }
            input.drain(..done.consumed);
            if eof {
                if !input.is_empty() {
                    return Err("standard input ended inside a request".into());
                }
                break;
            }
        }
    }
    out.flush().map_err(io_err)?;
    // Leave a complete database file and an empty log, as the server does on shutdown.
    let mut engine = shell.into_engine();
    engine.checkpoint(now_ms()).map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(msg) if msg.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("diskdb: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("diskdb: {msg}");
            ExitCode::FAILURE
        }
    }
}
