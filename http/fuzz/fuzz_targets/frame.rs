//! The socket's read path as the server runs it: bytes from a client
//! through the mask check and fastwebsockets' frame decoder (server role,
//! the server's frame limit), each text message through the protocol's
//! frame parser.
#![no_main]

use fastwebsockets::{OpCode, Role, WebSocket};
use libfuzzer_sys::fuzz_target;
use parley::ws::masked::Masked;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let io = tokio::io::join(Masked::new(data), tokio::io::sink());
        let mut ws = WebSocket::after_handshake(io, Role::Server);
        ws.set_max_message_size(64 * 1024 + 1);
        ws.set_auto_close(true);
        ws.set_auto_pong(true);
        for _ in 0..64 {
            let Ok(frame) = ws.read_frame().await else {
                break;
            };
            if frame.opcode == OpCode::Text {
                if let Ok(text) = std::str::from_utf8(&frame.payload) {
                    let _ = parley_engine::protocol::parse_client(text);
                }
            }
        }
    });
});
