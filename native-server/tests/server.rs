//! The real server binary, driven by real clients: the `redis` crate, raw sockets and redis-cli.

mod common;

use std::process::Command;

use common::{exchange, is_closed, redis_cli, Server};
use redis::Commands;

#[test]
fn basic_commands_work_through_the_redis_crate() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = con.set("greeting", "hello").unwrap();
    let v: String = con.get("greeting").unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").unwrap();
    assert_eq!(missing, None);
    let n: i64 = redis::cmd("EXISTS")
        .arg("greeting")
        .arg("greeting")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = con.del(&["greeting", "nope"]).unwrap();
    assert_eq!(n, 1);
    let echo: Vec<u8> = redis::cmd("ECHO")
        .arg(&b"bin\0ary\r\n"[..])
        .query(&mut con)
        .unwrap();
    assert_eq!(echo, b"bin\0ary\r\n");
}

#[test]
fn errors_carry_redis_texts_and_keep_the_connection() {
    let server = Server::start(&[]);
    let mut s = server.raw();
    let out = exchange(
        &mut s,
        b"FOO a b\r\n*1\r\n$3\r\nGET\r\nset k\r\nPING\r\n",
        200,
    );
    assert_eq!(
        out,
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n\
          -ERR wrong number of arguments for 'get' command\r\n\
          -ERR wrong number of arguments for 'set' command\r\n\
          +PONG\r\n"
            .to_vec()
    );
}

#[test]
fn a_pipeline_of_ten_thousand_commands_replies_in_order() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..5_000 {
        pipe.set(format!("k{i}"), i).ignore();
        pipe.get(format!("k{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(values, (0..5_000).collect::<Vec<i64>>());
}

#[test]
fn many_concurrent_clients_are_served() {
    let server = Server::start(&[]);
    let url = server.url();
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0..100 {
                    let key = format!("c{t}:{i}");
                    let _: () = con.set(&key, i).unwrap();
                    let v: i64 = con.get(&key).unwrap();
                    assert_eq!(v, i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_protocol_error_closes_only_that_connection() {
    let server = Server::start(&[]);
    let mut other = server.client();
    let mut bad = server.raw();
    let out = exchange(&mut bad, b"PING\r\n*1\r\nx3\r\nPING\r\n", 1 << 20);
    assert_eq!(
        out,
        b"+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n".to_vec()
    );
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn quit_replies_ok_then_closes() {
    let server = Server::start(&[]);
    let mut s = server.raw();
    let out = exchange(&mut s, b"PING\r\nQUIT\r\nPING\r\n", 1 << 20);
    assert_eq!(out, b"+PONG\r\n+OK\r\n".to_vec());
    assert!(is_closed(&mut s));
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut server = Server::start(&[]);
    let _idle = server.raw();
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn shutdown_closes_every_connection_exits_and_keeps_the_data() {
    let dir = common::temp_dir("shutdown");
    let mut server = Server::start_in(&dir, &[]);
    let mut other = server.raw();
    assert_eq!(exchange(&mut other, b"PING\r\n", 7), b"+PONG\r\n");
    let mut s = server.raw();
    // What precedes SHUTDOWN in the pipeline is applied; SHUTDOWN itself has no reply, as in
    // Redis, and nothing after it runs.
    let out = exchange(
        &mut s,
        b"SET kept v\r\nSHUTDOWN NOSAVE\r\nSET after 1\r\n",
        1 << 20,
    );
    assert_eq!(out, b"+OK\r\n".to_vec());
    assert!(is_closed(&mut s));
    assert!(is_closed(&mut other));
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    drop(server);

    let server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    let kept: Option<String> = con.get("kept").unwrap();
    let after: Option<String> = con.get("after").unwrap();
    assert_eq!((kept.as_deref(), after), (Some("v"), None));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_config_file_sets_the_port() {
    let dir = common::temp_dir("conf");
    let port = common::free_port();
    let conf = dir.join("diskdb.conf");
    std::fs::write(
        &conf,
        format!(
            "# DiskDB test config\nport {port}\nbind 127.0.0.1\ndir \"{}\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_diskdb-server"))
        .arg(&conf)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        log: dir.join("no-log"),
        dir,
        owns_dir: true,
    };
    server.wait_ready();
    let pong: String = redis::cmd("PING").query(&mut server.client()).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn help_describes_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_diskdb-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--bind", "--port", "--dir", "[CONFIG]", "6380", "./data"] {
        assert!(text.contains(flag), "--help lacks {flag}: {text}");
    }
}

#[test]
fn redis_cli_sets_and_gets() {
    let Some(cli) = redis_cli() else { return };
    let server = Server::start(&[]);
    let port = server.port.to_string();
    let run = |args: &[&str]| {
        let out = Command::new(cli)
            .args(["-p", &port])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    };
    assert_eq!(run(&["SET", "name", "disk db"]), "OK");
    assert_eq!(run(&["GET", "name"]), "disk db");
    assert_eq!(run(&["EXISTS", "name", "other"]), "1");
    assert_eq!(run(&["PING"]), "PONG");
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    let Some(cli) = redis_cli() else { return };
    let server = Server::start(&[]);
    let mut input = String::new();
    for i in 0..2_000 {
        input.push_str(&format!(
            "*3\r\n$3\r\nSET\r\n${}\r\nkey{i}\r\n$1\r\nv\r\n",
            3 + i.to_string().len()
        ));
    }
    let mut child = Command::new(cli)
        .args(["-p", &server.port.to_string(), "--pipe"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 2000"), "{text}");
    let mut con = server.client();
    let v: String = con.get("key1999").unwrap();
    assert_eq!(v, "v");
}

#[test]
fn connection_and_server_commands_answer_like_redis() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut con)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, "worker-1");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(list.contains("name=worker-1"), "{list}");
    let _: () = con.set("k", "v").unwrap();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for field in [
        "redis_version:",
        "connected_clients:",
        "used_memory:",
        "expired_keys:",
        "db0:keys=1",
    ] {
        assert!(info.contains(field), "INFO lacks {field}");
    }
    let save: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .unwrap();
    assert_eq!(save, vec!["save".to_string(), String::new()]);
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(lastsave > 1_700_000_000);

    // RESP3 after HELLO 3: maps and nulls in RESP3 form.
    let mut s = server.raw();
    let out = exchange(&mut s, b"HELLO 3\r\nGET missing\r\nQUIT\r\n", 1 << 20);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{text}"
    );
    assert!(text.ends_with("_\r\n+OK\r\n"), "{text}");

    // CLIENT KILL ID closes the other connection.
    let mut victim = server.raw();
    let id_reply = exchange(&mut victim, b"CLIENT ID\r\n", 4);
    let id = String::from_utf8_lossy(&id_reply[1..]).trim().to_string();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query(&mut con)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(is_closed(&mut victim));
}

#[test]
fn published_messages_reach_subscribers_and_patterns() {
    let server = Server::start(&[]);
    let mut sub = server.raw();
    let confirm = exchange(&mut sub, b"SUBSCRIBE news\r\nPSUBSCRIBE n*\r\n", 66);
    assert!(
        confirm.ends_with(b"psubscribe\r\n$2\r\nn*\r\n:2\r\n"),
        "{:?}",
        String::from_utf8_lossy(&confirm)
    );
    let mut con = server.client();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    assert_eq!(receivers, 2);
    let expected = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    let got = exchange(&mut sub, b"", expected.len());
    assert_eq!(got, expected.to_vec());
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .query(&mut con)
        .unwrap();
    assert_eq!(numsub.len(), 2);
}

#[test]
fn requirepass_limits_unauthenticated_clients_as_redis_does() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut s = server.raw();
    let out = exchange(
        &mut s,
        b"GET a\r\nHELLO 3\r\nAUTH wrong\r\nAUTH s3cret\r\nSET a 1\r\nQUIT\r\n",
        1 << 20,
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("-NOAUTH Authentication required.\r\n-NOAUTH HELLO must be called"),
        "{text}"
    );
    assert!(text.ends_with("-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+OK\r\n+OK\r\n"), "{text}");
    let mut big = server.raw();
    let out = exchange(&mut big, b"*11\r\n", 1 << 20);
    assert_eq!(
        out,
        b"-ERR Protocol error: unauthenticated multibulk length\r\n".to_vec()
    );
    let mut bulk = server.raw();
    let out = exchange(&mut bulk, b"*1\r\n$20000\r\n", 1 << 20);
    assert_eq!(
        out,
        b"-ERR Protocol error: unauthenticated bulk length\r\n".to_vec()
    );
}

#[test]
fn blocked_clients_are_served_first_come_first_served_or_time_out() {
    let server = Server::start(&[]);
    let mut first = server.raw();
    let mut second = server.raw();
    let mut late = server.raw();
    use std::io::Write;
    first.write_all(b"BLPOP q 5\r\nPING\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    second.write_all(b"BLPOP q 5\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    late.write_all(b"BLMOVE other dst LEFT RIGHT 0.2\r\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut con = server.client();
    let n: i64 = redis::cmd("RPUSH")
        .arg("q")
        .arg("a")
        .arg("b")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        exchange(&mut first, b"", 25),
        b"*2\r\n$1\r\nq\r\n$1\r\na\r\n+PONG\r\n".to_vec()
    );
    assert_eq!(
        exchange(&mut second, b"", 18),
        b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n".to_vec()
    );
    assert_eq!(exchange(&mut late, b"", 5), b"*-1\r\n".to_vec());
    let len: i64 = redis::cmd("LLEN").arg("q").query(&mut con).unwrap();
    assert_eq!(len, 0);
}
