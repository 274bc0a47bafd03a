//! The tour: a new user's first day, measured in a real headless Chromium
//! (`http/tests/browser/tour.mjs`). Sign-up on the landing page of a fresh
//! workspace, a chat from the widget, then every page the dashboard's
//! navigation links to (plus an open conversation, Account and the welcome
//! page) at 1280×800, 1440×900 and 390×844, light and dark: no sideways
//! scroll, the composer and its Send button on screen, no console error,
//! no serious or critical axe-core violation, no stretched SVG text.
//! Screenshots land in `target/tmp/tour-shots/NAME-viewport-scheme.png`.

mod common;

use common::browser::{missing, run_script};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_tours_every_page_at_three_sizes_in_light_and_dark() {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser tests need {why}"
        );
        eprintln!("skipping the tour: {why}; `bash .ci/run` installs what they need");
        return;
    }
    let mut srv = Server::start();
    tokio::task::block_in_place(|| run_script(&mut srv, "tour.mjs", "tour", "", &[]));
}
