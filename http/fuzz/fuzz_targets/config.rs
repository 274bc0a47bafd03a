//! The config parser: arbitrary TOML text gives a config or a clear error,
//! and a config that parses is validated and its plans resolved.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = parley::config::Config::from_toml(text) {
        let _ = c.validate();
        let _ = c.plans();
    }
});
