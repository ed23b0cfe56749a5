//! One client connection: read bytes, hand every complete request to the executor, write the
//! replies in order. Pipelining falls out of that loop; a protocol error gets Redis's error reply
//! after the replies to the requests before it, then the connection closes.

use std::sync::mpsc;

use bytes::BytesMut;
use diskdb_core::protocol::{parse_request, Limits, ProtocolError, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

use crate::executor::{Done, Job};

/// Read buffer growth step (Redis reads 16 KB at a time).
const READ_CHUNK: usize = 16 * 1024;
/// Most bytes of requests handed to the executor at once, so one client's huge pipeline is
/// executed in slices and its replies do not pile up.
const MAX_JOB_BYTES: usize = 256 * 1024;

/// Tells the executor to drop a client's session when the connection ends, however it ends.
struct Registration {
    client: u64,
    jobs: mpsc::Sender<Job>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Disconnect {
            client: self.client,
        });
    }
}

/// The prefix of `input` made of complete requests, and the protocol error that follows it, if
/// any.
fn complete_prefix(input: &[u8], limits: &Limits) -> (usize, Option<ProtocolError>) {
    let mut pos = 0;
    while pos < input.len() && pos < MAX_JOB_BYTES {
        match parse_request(&input[pos..], limits) {
            Ok(Some(request)) => pos += request.consumed(),
            Ok(None) => break,
            Err(err) => return (pos, Some(err)),
        }
    }
    (pos, None)
}

/// Serves one client until it disconnects, sends QUIT, breaks the protocol, or the server stops.
pub async fn serve(
    mut stream: TcpStream,
    client: u64,
    jobs: mpsc::Sender<Job>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let _registration = Registration {
        client,
        jobs: jobs.clone(),
    };
    let limits = Limits::default();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut reply = Reply::new();
    loop {
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = shutdown.changed() => return,
        }
        loop {
            let (complete, error) = complete_prefix(&input, &limits);
            let mut close = false;
            if complete > 0 {
                let (done_tx, done_rx) = oneshot::channel();
                let job = Job::Run {
                    client,
                    input: input.split_to(complete).freeze(),
                    reply,
                    done: done_tx,
                };
                if jobs.send(job).is_err() {
                    return;
                }
                let Ok(Done {
                    reply: r,
                    close: quit,
                }) = done_rx.await
                else {
                    return;
                };
                reply = r;
                close = quit;
            }
            if let (Some(err), false) = (error, close) {
                reply.error(&err.reply_text());
                close = true;
            }
            if !reply.is_empty() {
                if stream.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                reply.truncate(0);
            }
            if close {
                let _ = stream.shutdown().await;
                return;
            }
            // More complete requests than one job takes: go on without reading.
            if complete < MAX_JOB_BYTES || input.is_empty() {
                break;
            }
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
    }
}
