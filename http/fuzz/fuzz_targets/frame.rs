//! The socket's read path as the server runs it: bytes from a client
//! through the frame reader (`parley::ws::wire`, the server's frame limit),
//! each text message through the protocol's frame parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::ws::wire::{Op, Reader};

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut r = Reader::new(data, 64 * 1024);
        for _ in 0..64 {
            let Ok(frame) = r.frame().await else {
                break;
            };
            if frame.op == Op::Text {
                if let Ok(text) = std::str::from_utf8(&frame.payload) {
                    let _ = parley_engine::protocol::parse_client(text);
                }
            }
        }
    });
});
