//! `/ws/echo`, served only with `testing.echo_endpoint`: every message back
//! to its sender, through the same reader (mask check, fragments, limits,
//! close codes) and writer as the visitor and staff sessions. It exists for
//! Autobahn|Testsuite's fuzzingclient (`http/tests/autobahn.rs`).

use super::conn::{Prelude, Socket};
use super::wire::Op;
use bytes::Bytes;
use parley_actors::Out;
use tokio::sync::oneshot;

/// Runs until the peer closes; the close code to answer with.
pub async fn run(mut s: Socket, prelude: oneshot::Sender<Prelude>) -> u16 {
    // No first frame to wait for: the writer starts at once.
    drop(prelude);
    s.opened();
    loop {
        let (op, data) = match s.recv_message().await {
            Ok(m) => m,
            Err(code) => return code,
        };
        let out = if op == Op::Text {
            match String::from_utf8(data) {
                Ok(t) => Out::Frame(Bytes::from(t)),
                Err(_) => return 1007,
            }
        } else {
            Out::Binary(Bytes::from(data))
        };
        s.outbox.push(out);
    }
}
