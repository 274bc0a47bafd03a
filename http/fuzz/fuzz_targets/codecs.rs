//! The storage codecs: every stored record type decoded from arbitrary
//! bytes (a damaged data dir must give an error, never a panic), and what
//! decodes encodes back to the same bytes' meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_engine::account::*;
use parley_engine::records::*;
use parley_storage::codec::{decode, encode};

fuzz_target!(|data: &[u8]| {
    macro_rules! record {
        ($($t:ty),*) => {$(
            if let Ok(v) = decode::<$t>(data) {
                let again: $t = decode(&encode(&v)).expect("what decoded encodes back");
                assert_eq!(format!("{v:?}"), format!("{again:?}"));
            }
        )*};
    }
    record!(
        MessageRecord,
        ConversationRecord,
        VisitorRecord,
        PageView,
        StaffRecord,
        SiteRecord,
        ContactRecord,
        AuditRecord,
        VisitorDevice
    );
});
