//! Limits and slow clients, against the real binary: Redis's errors where Redis has them, and
//! proof that the server's memory and the other clients' latency stay bounded.
//!
//! "Bounded" is checked generously (a PING from another client within a second, RSS growth a
//! fraction of what an unbounded server would take): machines running these tests are noisy.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{exchange, Server};

/// A PING answered later than this means another client held the server up.
const LATENCY_BOUND: Duration = Duration::from_secs(1);

/// Resident memory of process `pid`, in bytes.
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// While a scenario runs: another client PINGs every 50 ms and the server's RSS is sampled.
struct Watch {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Duration, u64, usize)>,
}

/// What a [`Watch`] saw.
#[derive(Debug)]
struct Observed {
    slowest_ping: Duration,
    peak_rss: u64,
    pings: usize,
}

impl Watch {
    fn start(server: &Server) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let mut probe = server.raw();
        let pid = server.child.id();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut slowest, mut peak, mut pings) = (Duration::ZERO, 0u64, 0usize);
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(rss_of(pid));
                let started = Instant::now();
                let reply = exchange(&mut probe, b"PING\r\n", 7);
                assert_eq!(reply, b"+PONG\r\n".to_vec(), "the probe client was refused");
                slowest = slowest.max(started.elapsed());
                pings += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (slowest, peak, pings)
        });
        Watch { stop, handle }
    }

    fn finish(self) -> Observed {
        self.stop.store(true, Ordering::Relaxed);
        let (slowest_ping, peak_rss, pings) = self.handle.join().expect("probe thread");
        Observed {
            slowest_ping,
            peak_rss,
            pings,
        }
    }
}

/// Reads (and discards) until the server closes the connection; false if it is still open after
/// `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn config_set(server: &Server, name: &str, value: &str) -> redis::RedisResult<()> {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(&mut server.client())
}

/// `SET <key> <value>` as one multibulk request.
fn set_request(key: &[u8], value_len: usize) -> Vec<u8> {
    let mut req = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${value_len}\r\n",
        key.len(),
        String::from_utf8_lossy(key)
    )
    .into_bytes();
    req.resize(req.len() + value_len, b'v');
    req.extend_from_slice(b"\r\n");
    req
}

#[test]
fn an_argument_over_proto_max_bulk_len_is_refused_with_redis_error() {
    let server = Server::start(&["--storage", "memory", "--proto-max-bulk-len", "1mb"]);
    let mut s = server.raw();
    let out = exchange(
        &mut s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
        1 << 10,
    );
    assert_eq!(
        out,
        b"-ERR Protocol error: invalid bulk length\r\n".to_vec()
    );
    // Exactly the limit is accepted.
    let mut s = server.raw();
    assert_eq!(
        exchange(&mut s, &set_request(b"k", 1 << 20), 5),
        b"+OK\r\n".to_vec()
    );
    // CONFIG SET changes it for the next request, with Redis's checks.
    let err = config_set(&server, "proto-max-bulk-len", "1000").unwrap_err();
    assert!(
        err.to_string().contains(
            "CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"
        ),
        "{err}"
    );
    config_set(&server, "proto-max-bulk-len", "2mb").unwrap();
    assert_eq!(
        exchange(&mut s, &set_request(b"k", 3 << 19), 5),
        b"+OK\r\n".to_vec()
    );
}

#[test]
fn more_arguments_than_the_limit_get_invalid_multibulk_length() {
    let server = Server::start(&["--storage", "memory"]);
    let mut s = server.raw();
    assert_eq!(
        exchange(&mut s, b"*1048577\r\n", 1 << 10),
        b"-ERR Protocol error: invalid multibulk length\r\n".to_vec()
    );
    // The limit itself is accepted (a complete request of 1024*1024 arguments).
    let mut s = server.raw();
    let mut req = b"*1048576\r\n$4\r\nMSET\r\n".to_vec();
    for i in 0..(1048575 / 2) {
        let key = format!("k{i}");
        req.extend_from_slice(format!("${}\r\n{key}\r\n$1\r\nv\r\n", key.len()).as_bytes());
    }
    req.extend_from_slice(b"$1\r\nx\r\n");
    let wrong = b"-ERR wrong number of arguments for 'mset' command\r\n";
    assert_eq!(exchange(&mut s, &req, wrong.len()), wrong.to_vec());
}

#[test]
fn a_client_over_the_query_buffer_limit_is_closed_and_memory_stays_bounded() {
    let server = Server::start(&["--storage", "memory", "--client-query-buffer-limit", "4mb"]);
    let base = server.rss_bytes();
    let watch = Watch::start(&server);
    let mut big = server.raw();
    // A 400 MB argument (under proto-max-bulk-len) that the query buffer limit cuts short.
    big.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n")
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 400_000_000 {
        match big.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let seen = watch.finish();
    eprintln!(
        "query buffer limit 4mb: cut off after {:.1} MB sent; RSS {:.1} MB -> peak {:.1} MB; slowest PING {:?} of {}",
        mb(sent as u64),
        mb(base),
        mb(seen.peak_rss),
        seen.slowest_ping,
        seen.pings
    );
    assert!(sent < 64 << 20, "the server kept reading: {sent} bytes");
    assert!(closed_within(&mut big, Duration::from_secs(5)));
    assert!(seen.peak_rss < base + (32 << 20), "{seen:?}");
    assert!(seen.slowest_ping < LATENCY_BOUND, "{seen:?}");
    // The default (1gb, as in Redis) would have taken it.
    let mut con = server.client();
    let limit: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-query-buffer-limit")
        .query(&mut con)
        .unwrap();
    assert_eq!(limit, ["client-query-buffer-limit", "4194304"]);
}

#[test]
fn maxclients_refuses_the_next_client_with_redis_error() {
    let server = Server::start(&["--storage", "memory", "--maxclients", "3"]);
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = server.raw();
            assert_eq!(exchange(&mut s, b"PING\r\n", 7), b"+PONG\r\n".to_vec());
            s
        })
        .collect();
    // Read before writing: Redis (and DiskDB) answer at once and close.
    let mut extra = server.raw();
    assert_eq!(
        exchange(&mut extra, b"", 1 << 10),
        b"-ERR max number of clients reached\r\n".to_vec()
    );
    // A closed client frees its place (the server notices the close shortly after).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = server.raw();
        let out = exchange(&mut s, b"PING\r\n", 7);
        if out == b"+PONG\r\n" {
            held.push(s);
            break;
        }
        assert!(Instant::now() < deadline, "no place freed: {out:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // CONFIG SET raises it at run time.
    assert_eq!(
        exchange(&mut held[0], b"CONFIG SET maxclients 5\r\n", 5),
        b"+OK\r\n".to_vec()
    );
    let mut fourth = server.raw();
    assert_eq!(exchange(&mut fourth, b"PING\r\n", 7), b"+PONG\r\n".to_vec());
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut server.client())
        .unwrap();
    // At least the one above (a retry may have come before the freed place was noticed).
    assert!(!info.contains("rejected_connections:0\r\n"), "{info}");
}

#[test]
fn idle_clients_are_closed_after_timeout_but_not_subscribers_or_blocked_clients() {
    let server = Server::start(&["--storage", "memory", "--timeout", "1"]);
    let mut idle = server.raw();
    assert_eq!(exchange(&mut idle, b"PING\r\n", 7), b"+PONG\r\n".to_vec());
    let mut subscriber = server.raw();
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
    assert_eq!(
        exchange(&mut subscriber, b"SUBSCRIBE ch\r\n", confirm.len()),
        confirm.to_vec()
    );
    let mut blocked = server.raw();
    blocked.write_all(b"BLPOP q 0\r\n").unwrap();
    // A client that keeps talking is not idle.
    let mut busy = server.raw();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(exchange(&mut busy, b"PING\r\n", 7), b"+PONG\r\n".to_vec());
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(closed_within(&mut idle, Duration::from_secs(3)));
    assert_eq!(exchange(&mut busy, b"RPUSH q x\r\n", 4), b":1\r\n".to_vec());
    blocked
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        exchange(&mut blocked, b"", 18),
        b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n".to_vec()
    );
    assert_eq!(
        exchange(&mut busy, b"PUBLISH ch hi\r\n", 4),
        b":1\r\n".to_vec()
    );
    let message = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n";
    assert_eq!(
        exchange(&mut subscriber, b"", message.len()),
        message.to_vec()
    );
}

#[test]
fn clients_sending_one_byte_at_a_time_do_not_hold_up_others() {
    let server = Server::start(&["--storage", "memory"]);
    let watch = Watch::start(&server);
    let slow: Vec<JoinHandle<Vec<u8>>> = (0..5)
        .map(|i| {
            let mut s = server.raw();
            std::thread::spawn(move || {
                let request = format!("*3\r\n$3\r\nSET\r\n$5\r\nslow{i}\r\n$5\r\nvalue\r\n");
                for byte in request.as_bytes() {
                    s.write_all(&[*byte]).unwrap();
                    std::thread::sleep(Duration::from_millis(80));
                }
                exchange(&mut s, b"", 5)
            })
        })
        .collect();
    for handle in slow {
        assert_eq!(handle.join().unwrap(), b"+OK\r\n".to_vec());
    }
    let seen = watch.finish();
    eprintln!(
        "5 clients at one byte per 80 ms: slowest PING {:?} of {}",
        seen.slowest_ping, seen.pings
    );
    assert!(seen.pings > 20, "{seen:?}");
    assert!(seen.slowest_ping < LATENCY_BOUND, "{seen:?}");
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_at_the_pubsub_limit() {
    // Redis's default pubsub class: hard 32mb, soft 8mb for 60 s.
    let server = Server::start(&["--storage", "memory"]);
    let mut subscriber = server.raw();
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n";
    assert_eq!(
        exchange(&mut subscriber, b"SUBSCRIBE big\r\n", confirm.len()),
        confirm.to_vec()
    );
    let base = server.rss_bytes();
    let watch = Watch::start(&server);
    let mut publisher = server.client();
    let payload = vec![b'm'; 100 * 1024];
    // 300 MB of messages: an unbounded server would hold nearly all of them.
    let mut receivers = Vec::new();
    for _ in 0..60 {
        let mut pipe = redis::pipe();
        for _ in 0..50 {
            pipe.cmd("PUBLISH").arg("big").arg(&payload[..]);
        }
        let counts: Vec<i64> = pipe.query(&mut publisher).unwrap();
        receivers.extend(counts);
    }
    let seen = watch.finish();
    let delivered = receivers.iter().filter(|&&n| n == 1).count();
    eprintln!(
        "non-reading subscriber: {delivered} of {} messages of 100 KB accepted before the disconnect; RSS {:.1} MB -> peak {:.1} MB; slowest PING {:?} of {}",
        receivers.len(),
        mb(base),
        mb(seen.peak_rss),
        seen.slowest_ping,
        seen.pings
    );
    assert_eq!(receivers.last(), Some(&0), "the subscriber is still there");
    assert!(delivered < 1000, "{delivered} messages queued");
    assert!(seen.peak_rss < base + (96 << 20), "{seen:?}");
    assert!(seen.slowest_ping < LATENCY_BOUND, "{seen:?}");
    assert!(closed_within(&mut subscriber, Duration::from_secs(10)));
}

#[test]
fn a_pipelining_client_that_never_reads_is_held_back_then_cut_by_the_normal_limit() {
    let server = Server::start(&["--storage", "memory"]);
    let mut con = server.client();
    let value = vec![b'v'; 100 * 1024];
    // A long key makes the requests large enough to fill the socket buffers.
    let key = "k".repeat(1000);
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&value[..])
        .query(&mut con)
        .unwrap();
    let base = server.rss_bytes();
    let watch = Watch::start(&server);
    // Ask for 2 GB of replies without reading any.
    let mut greedy = server.raw();
    greedy
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let batch = format!("GET {key}\r\n").repeat(1000).into_bytes();
    let mut asked = 0usize;
    let stalled = loop {
        if asked >= 20_000 {
            break false;
        }
        match greedy.write_all(&batch) {
            Ok(()) => asked += 1000,
            Err(_) => break true,
        }
    };
    let seen = watch.finish();
    eprintln!(
        "non-reading pipeline: writes stalled after {asked} GETs of 100 KB; RSS {:.1} MB -> peak {:.1} MB; slowest PING {:?} of {}",
        mb(base),
        mb(seen.peak_rss),
        seen.slowest_ping,
        seen.pings
    );
    assert!(
        stalled,
        "the server executed {asked} GETs for a client that does not read"
    );
    assert!(seen.peak_rss < base + (48 << 20), "{seen:?}");
    assert!(seen.slowest_ping < LATENCY_BOUND, "{seen:?}");
    // Held back, not dropped: the default normal class has no limit, as in Redis.
    let mut buf = [0u8; 8];
    greedy.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"$102400\r");

    // With a normal-class hard limit, such a client is disconnected instead.
    config_set(&server, "client-output-buffer-limit", "normal 1mb 0 0").unwrap();
    let mut cut = server.raw();
    cut.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    for _ in 0..20 {
        if cut.write_all(&batch).is_err() {
            break;
        }
    }
    assert!(closed_within(&mut cut, Duration::from_secs(10)));
    // A client that reads gets large replies under the same limit.
    let got: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
    assert_eq!(got.len(), value.len());
}

/// Sends a SET of a 10 KB value and 500 GETs of it: replies that outgrow the output high-water
/// mark several times over, so some wait for the client to read. Returns one GET's reply.
fn send_large_replies(s: &mut std::net::TcpStream) -> String {
    let value = "v".repeat(10_000);
    s.write_all(format!("SET k {value}\r\n").as_bytes())
        .unwrap();
    s.write_all(&b"GET k\r\n".repeat(500)).unwrap();
    format!("$10000\r\n{value}\r\n")
}

#[test]
fn a_pipeline_past_the_output_high_water_mark_is_answered_while_the_client_waits() {
    let server = Server::start(&["--storage", "memory"]);
    let mut s = server.raw();
    // The client sends nothing more until it has read every reply.
    let one = send_large_replies(&mut s);
    let mut out = vec![0u8; 5 + 500 * one.len()];
    s.read_exact(&mut out).unwrap();
    assert!(out.ends_with(one.as_bytes()));
    s.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
}

#[test]
fn a_client_that_shuts_its_sending_side_still_gets_every_reply() {
    let server = Server::start(&["--storage", "memory"]);
    let mut s = server.raw();
    let one = send_large_replies(&mut s);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 5 + 500 * one.len());
    assert!(out.ends_with(one.as_bytes()));
}
