//! Value encoding: one schema-version byte, then postcard. A record written
//! by a newer schema is refused instead of misread.

use crate::{Result, StorageError};
use serde::{de::DeserializeOwned, Serialize};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u8 = 1;

/// Encodes a record with its version byte.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(SCHEMA_VERSION);
    // postcard only fails on writer errors (none for a Vec) or unsupported
    // serde features, which our records do not use.
    postcard::to_io(value, &mut out).expect("postcard encoding of a record");
    out
}

/// Decodes a record written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&SCHEMA_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StorageError::Decode(e.to_string()))
        }
        Some((&v, _)) => Err(StorageError::Schema(v, SCHEMA_VERSION)),
        None => Err(StorageError::Decode("empty value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::records::*;
    use parley_engine::*;

    #[test]
    fn round_trip_and_version_check() {
        let m = MessageRecord {
            id: MessageId::new(),
            conversation_id: ConversationId::new(),
            seq: 3,
            client_id: Some("c".into()),
            from: Participant::visitor(VisitorId::new(), None),
            body: "hello".into(),
            private: false,
            ts: Timestamp::now(),
        };
        let bytes = encode(&m);
        assert_eq!(bytes[0], SCHEMA_VERSION);
        assert_eq!(decode::<MessageRecord>(&bytes).unwrap(), m);
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(matches!(
            decode::<MessageRecord>(&future),
            Err(StorageError::Schema(9, _))
        ));
        assert!(decode::<MessageRecord>(&[]).is_err());
    }
}
