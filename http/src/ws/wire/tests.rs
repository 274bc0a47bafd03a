use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client frame: `mask` set or (against the RFC) not.
fn frame(b0: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => f.push(m | n as u8),
        n @ 126..=65535 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if masked {
        f.extend_from_slice(&key);
    }
    f.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, x)| if masked { x ^ key[i & 3] } else { *x }),
    );
    f
}

fn text(payload: &[u8]) -> Vec<u8> {
    frame(0x81, true, payload)
}

/// Every frame of `bytes`, fed in pieces of `chunk`; then the error that ended it.
async fn read_all(bytes: &[u8], chunk: usize, max: usize) -> (Vec<Frame>, u16) {
    let (mut tx, rx) = tokio::io::duplex(1 << 20);
    let bytes = bytes.to_vec();
    let feed = tokio::spawn(async move {
        for part in bytes.chunks(chunk.max(1)) {
            tx.write_all(part).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut r = Reader::new(rx, max);
    let mut got = Vec::new();
    let end = loop {
        match r.frame().await {
            Ok(f) => got.push(f),
            Err(code) => break code,
        }
    };
    feed.await.unwrap();
    (got, end)
}

#[tokio::test]
async fn frames_come_whole_and_unmasked_in_any_split() {
    let lens = [0usize, 5, 125, 126, 300, 65535, 65536, 70_000];
    let mut stream = Vec::new();
    for len in lens {
        stream.extend(text(&vec![b'x'; len]));
    }
    stream.extend(frame(0x89, true, b"ping!"));
    for chunk in [1, 2, 3, 7, 1000, stream.len()] {
        let (got, end) = read_all(&stream, chunk, 100_000).await;
        assert_eq!(end, close::NORMAL, "chunk {chunk}: ends when the peer goes");
        let want: Vec<_> = lens.iter().map(|n| vec![b'x'; *n]).collect();
        let texts: Vec<_> = got
            .iter()
            .take(lens.len())
            .map(|f| f.payload.clone())
            .collect();
        assert_eq!(texts, want, "chunk {chunk}");
        assert!(got[..lens.len()].iter().all(|f| f.fin && f.op == Op::Text));
        assert_eq!(got[lens.len()].op, Op::Ping);
        assert_eq!(got[lens.len()].payload, b"ping!");
    }
}

#[tokio::test]
async fn what_the_rfc_forbids_is_a_protocol_error() {
    let ok = text(b"fine");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", frame(0x81, false, b"hi"), close::PROTOCOL_ERROR),
        (
            "reserved bit",
            frame(0xc1, true, b"hi"),
            close::PROTOCOL_ERROR,
        ),
        ("opcode 3", frame(0x83, true, b"hi"), close::PROTOCOL_ERROR),
        (
            "fragmented ping",
            frame(0x09, true, b"hi"),
            close::PROTOCOL_ERROR,
        ),
        (
            "long ping",
            frame(0x89, true, &[0; 126]),
            close::PROTOCOL_ERROR,
        ),
        (
            "close of one byte",
            frame(0x88, true, &[3]),
            close::PROTOCOL_ERROR,
        ),
        (
            "close code 1005",
            frame(0x88, true, &1005u16.to_be_bytes()),
            close::PROTOCOL_ERROR,
        ),
        (
            "close code 999",
            frame(0x88, true, &999u16.to_be_bytes()),
            close::PROTOCOL_ERROR,
        ),
        (
            "close reason not UTF-8",
            frame(0x88, true, &[3, 232, 0xff]),
            1007,
        ),
        ("past the limit", text(&[b'y'; 1001]), close::TOO_BIG),
    ];
    for (what, bad, code) in cases {
        let mut stream = ok.clone();
        stream.extend(bad);
        let (got, end) = read_all(&stream, 3, 1000).await;
        assert_eq!(end, code, "{what}");
        assert_eq!(got.len(), 1, "{what}: the frame before it still came");
    }
    // A close frame a peer may send is a frame like any other.
    let mut body = 4000u16.to_be_bytes().to_vec();
    body.extend_from_slice("bye ✓".as_bytes());
    let (got, _) = read_all(&frame(0x88, true, &body), 1, 1000).await;
    assert_eq!(
        got,
        vec![Frame {
            fin: true,
            op: Op::Close,
            payload: body
        }]
    );
    // Exactly the limit is allowed.
    let (got, end) = read_all(&text(&[b'z'; 1000]), 64, 1000).await;
    assert_eq!((got.len(), end), (1, close::NORMAL));
}

#[tokio::test]
async fn a_waiting_reader_holds_no_buffer() {
    let (mut tx, rx) = tokio::io::duplex(1 << 16);
    let mut r = Reader::new(rx, 100_000);
    let mut two = text(&[b'a'; 3000]);
    two.extend(text(b"b"));
    tx.write_all(&two).await.unwrap();
    assert_eq!(r.frame().await.unwrap().payload.len(), 3000);
    assert_eq!(r.frame().await.unwrap().payload, b"b");
    // The next read waits: nothing is kept while it does.
    let waited = tokio::time::timeout(std::time::Duration::from_millis(20), r.frame()).await;
    assert!(waited.is_err());
    assert_eq!(r.buf.capacity(), 0);
    // Half a frame is kept, and completed by the next bytes.
    let big = text(&[b'c'; 9000]);
    tx.write_all(&big[..5000]).await.unwrap();
    let waited = tokio::time::timeout(std::time::Duration::from_millis(20), r.frame()).await;
    assert!(waited.is_err());
    assert!(r.buf.capacity() >= 9000);
    tx.write_all(&big[5000..]).await.unwrap();
    assert_eq!(r.frame().await.unwrap().payload, vec![b'c'; 9000]);
}

#[tokio::test]
async fn frames_are_gathered_until_flushed_and_freed_after() {
    let (a, mut b) = tokio::io::duplex(1 << 20);
    let mut w = Writer::new(a);
    w.frame(Op::Text, b"one").await.unwrap();
    w.frame(Op::Binary, &[7; 300]).await.unwrap();
    let mut got = [0u8; 5];
    // Nothing reached the peer before the flush.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), b.read(&mut got))
            .await
            .is_err()
    );
    w.close(1000, b"done").await.unwrap();
    w.flush().await.unwrap();
    assert_eq!(w.buf.capacity(), 0);
    let mut want = vec![0x81, 3];
    want.extend_from_slice(b"one");
    want.extend_from_slice(&[0x82, 126, 1, 44]);
    want.extend_from_slice(&[7; 300]);
    want.extend_from_slice(&[0x88, 6, 3, 232]);
    want.extend_from_slice(b"done");
    let mut back = vec![0; want.len()];
    b.read_exact(&mut back).await.unwrap();
    assert_eq!(back, want);
    // A large burst is written past the high-water mark, in order.
    let big = vec![9u8; 70_000];
    for _ in 0..3 {
        w.frame(Op::Binary, &big).await.unwrap();
    }
    w.flush().await.unwrap();
    for _ in 0..3 {
        let mut head = [0u8; 10];
        b.read_exact(&mut head).await.unwrap();
        assert_eq!(head[..2], [0x82, 127]);
        assert_eq!(u64::from_be_bytes(head[2..].try_into().unwrap()), 70_000);
        let mut body = vec![0; 70_000];
        b.read_exact(&mut body).await.unwrap();
        assert_eq!(body, big);
    }
}
