//! Scripting on the real server: function libraries survive a clean restart and a SIGKILL (from
//! the database and from the log); a script that runs away is stopped and a script that fills
//! Lua's memory fails, while other clients keep being served.

mod common;

use common::{temp_dir, Server};

const LIBRARY: &str = "#!lua name=counters\n\
    redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n\
    redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";

fn fcall(con: &mut redis::Connection, name: &str, keys: &[&str], args: &[&str]) -> redis::Value {
    redis::cmd("FCALL")
        .arg(name)
        .arg(keys.len())
        .arg(keys)
        .arg(args)
        .query(con)
        .unwrap()
}

#[test]
fn function_libraries_survive_restart_and_sigkill() {
    let dir = temp_dir("functions");
    let mut server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    let name: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(LIBRARY)
        .query(&mut con)
        .unwrap();
    assert_eq!(name, "counters");
    assert_eq!(
        fcall(&mut con, "bump", &["n"], &["5"]),
        redis::Value::Int(5)
    );
    drop(con);
    // SIGKILL right away: the library comes back from the log.
    server.crash();
    let mut server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    assert_eq!(
        fcall(&mut con, "bump", &["n"], &["1"]),
        redis::Value::Int(6)
    );
    // A clean restart: it comes back from the database.
    drop(con);
    server.terminate();
    let server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    let peek: redis::Value = redis::cmd("FCALL_RO")
        .arg("peek")
        .arg(1)
        .arg("n")
        .query(&mut con)
        .unwrap();
    assert_eq!(peek, redis::Value::BulkString(b"6".to_vec()));
    let deleted: String = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("counters")
        .query(&mut con)
        .unwrap();
    assert_eq!(deleted, "OK");
    drop(con);
    drop(server);
    let server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    let err = redis::cmd("FCALL")
        .arg("bump")
        .arg(0)
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("Function not found"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_runaway_script_is_stopped_and_other_clients_are_served_after_it() {
    let server = Server::start(&["--storage", "memory"]);
    let mut con = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg("200")
        .query(&mut con)
        .unwrap();
    let url = server.url();
    let other = std::thread::spawn(move || {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        redis::cmd("PING").query::<String>(&mut con).unwrap()
    });
    let err = redis::cmd("EVAL")
        .arg("while true do end")
        .arg(0)
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Script killed by user with SCRIPT KILL"),
        "{err}"
    );
    assert_eq!(other.join().unwrap(), "PONG");
    // A script that wrote is not stopped: its writes stay whole.
    let done: i64 = redis::cmd("EVAL")
        .arg("redis.call('SET', 'k', 'v') local i = 0 while i < 30000000 do i = i + 1 end return i")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(done, 30_000_000);
    let value: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(value, "v");
}

#[test]
fn a_script_that_fills_lua_memory_fails_and_the_next_script_runs() {
    let server = Server::start(&["--storage", "memory"]);
    let mut con = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg("0")
        .query(&mut con)
        .unwrap();
    let err = redis::cmd("EVAL")
        .arg("local t = {} for i = 1, 1e9 do t[i] = {i, i, i, i, i, i, i, i} end return #t")
        .arg(0)
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("Error running script"), "{err}");
    let one: i64 = redis::cmd("EVAL")
        .arg("return 1")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(one, 1);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn a_reply_nested_too_deep_ends_in_redis_error_and_the_server_goes_on() {
    use std::io::{Read, Write};
    let server = Server::start(&["--storage", "memory"]);
    let mut stream = server.raw();
    let script = "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return t";
    let request = format!(
        "*3\r\n$4\r\nEVAL\r\n${}\r\n{}\r\n$1\r\n0\r\n",
        script.len(),
        script
    );
    stream.write_all(request.as_bytes()).unwrap();
    let end = b"-ERR reached lua stack limit\r\n";
    let mut reply = Vec::new();
    let mut buf = [0u8; 65536];
    while !reply.ends_with(end) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed after {} bytes", reply.len());
        reply.extend_from_slice(&buf[..n]);
    }
    let levels = reply.len() - end.len();
    assert_eq!(levels % 4, 0);
    assert_eq!(levels / 4, 1000);
    assert!(reply[..levels].chunks(4).all(|c| c == b"*1\r\n"));
    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}
