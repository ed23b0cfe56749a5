//! Starts the real `diskdb-server` binary on a free loopback port for a test.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// Remove `dir` when dropped (false for servers restarted on the same data).
    pub owns_dir: bool,
    /// The server's log, shown if the test fails.
    pub log: PathBuf,
}

/// A port no other server of this test process was given, free when probed.
///
/// Not the kernel's pick (bind to port 0): tests run in parallel, and the kernel may hand the
/// same port to two probes once the first is closed, or give it to a client socket as its local
/// port before the server binds it; either way a test ends up talking to another test's server
/// or to none. These ports come from a counter below Linux's ephemeral range (32768 up), started
/// at an offset taken from the process id so that test processes running side by side rarely
/// meet.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 10_000;
    const COUNT: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(97) % COUNT;
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (start + n) % COUNT) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port")
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "diskdb-test-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

impl Server {
    /// Starts the server with extra arguments and waits until it accepts connections.
    pub fn start(extra: &[&str]) -> Server {
        let mut server = Server::start_in(&temp_dir("srv"), extra);
        server.owns_dir = true;
        server
    }

    /// Starts the server on an existing data directory, which it leaves in place.
    pub fn start_in(dir: &std::path::Path, extra: &[&str]) -> Server {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("diskdb-test-{}-{port}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_diskdb-server"))
            .args(["--port", &port.to_string(), "--dir", dir.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the server log"))
            .spawn()
            .expect("spawn diskdb-server");
        let server = Server {
            child,
            port,
            dir: dir.to_path_buf(),
            owns_dir: false,
            log,
        };
        server.wait_ready();
        server
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("diskdb-server did not start on port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        self.wait_exit()
    }

    /// Waits (at most 20 s) for the process to exit by itself (SIGTERM, SHUTDOWN).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let status = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!(
                "diskdb-server on port {} ({status:?}) logged:\n{log}",
                self.port
            );
        }
        let _ = std::fs::remove_file(&self.log);
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes `input` and reads until the server closes the connection or `want` bytes arrived.
pub fn exchange(stream: &mut TcpStream, input: &[u8], want: usize) -> Vec<u8> {
    stream.write_all(input).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < want {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Err(e) => {
                // Kept in the test's output, to tell a timeout from a reset if an assertion on
                // the reply fails.
                eprintln!("exchange: read failed after {} bytes: {e}", out.len());
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Whether the peer has closed the connection (a read returns EOF).
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(stream.read(&mut buf), Ok(0))
}

/// redis-cli, when installed (the test command installs it; elsewhere such tests are skipped).
pub fn redis_cli() -> Option<&'static str> {
    let found = Command::new("redis-cli").arg("--version").output().is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("redis-cli is required when CI is set");
    }
    found.then_some("redis-cli")
}
