//! Shared fixtures for Parley's criterion benchmarks (`benches/`).
#![forbid(unsafe_code)]

use parley_engine::records::{MessageRecord, Participant};
use parley_engine::*;

/// A typical chat message of `body_len` bytes.
pub fn message(conversation: ConversationId, seq: u64, body_len: usize) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        conversation_id: conversation,
        seq,
        client_id: Some(format!("client-{seq}")),
        from: Participant::visitor(VisitorId::new(), None),
        body: "x".repeat(body_len),
        private: false,
        ts: Timestamp::now(),
    }
}

/// The runtime the async benches run on: two workers, like the server here.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
