//! REST request bodies: every public body type from arbitrary JSON, and
//! the validators the handlers run on what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_engine::validate;

fuzz_target!(|data: &[u8]| {
    macro_rules! body {
        ($($t:ty),*) => {$(
            let _ = serde_json::from_slice::<$t>(data);
        )*};
    }
    body!(
        parley::app::contacts::ContactForm,
        parley::app::contacts::ContactPatch,
        parley::app::accounts::MePatch,
        parley::app::accounts::RefreshBody,
        parley::app::links::ResetRequest,
        parley::app::staff::StaffPatch,
        parley::app::tenant::TenantPatch,
        parley::app::bookings::BookingPatch,
        parley::api::system::TenantAdminPatch,
        parley::api::contacts::TranscriptRequest
    );
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = validate::email(text);
        let _ = validate::name(text);
        let _ = validate::body(text, 4000);
        let _ = validate::client_id(text);
        let _ = validate::password(text, "a@b.test");
        let _ = validate::web_url(text.to_string());
    }
});
