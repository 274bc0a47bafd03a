//! The staff dashboard in a real headless Chromium (`http/tests/browser/
//! dashboard.mjs`), against the real server: a chat from the widget
//! answered in the inbox (claim, reply, private note, typing, read receipt,
//! visitor sidebar), live visitors following a page change, a transfer
//! between two agents and a close, roles (agents see no administration),
//! a silent token refresh, and `logout-all` from elsewhere signing the
//! dashboard out, the operator suspending a tenant at `/admin/`, and a team
//! forming with real mail (invitation link, forgot password, reset page,
//! the Account page, the Outbox).
//! Screenshots land in `target/tmp/dashboard-shots/`.

mod common;

use common::browser::{missing, run_script};
use common::*;

fn skip() -> bool {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser tests need {why}"
        );
        eprintln!(
            "skipping the dashboard browser tests: {why}; `bash .ci/run` installs what they need"
        );
        return true;
    }
    false
}

fn agents() -> Setup {
    Setup {
        staff: vec![
            ("agent@acme.test".into(), "agent".into()),
            ("agent2@acme.test".into(), "agent".into()),
        ],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    if skip() {
        return;
    }
    let pass = [("PARLEY_PASSWORD", PASSWORD.to_string())];
    for name in ["inbox", "transfer"] {
        let mut srv = Server::start_with(agents());
        tokio::task::block_in_place(|| run_script(&mut srv, "dashboard.mjs", name, "", &pass));
    }
    // Short-lived access tokens: the dashboard must refresh them unnoticed.
    let ttl = 30;
    let mut srv = Server::start_with(Setup {
        config: Some(format!("[auth]\naccess_token_ttl_secs = {ttl}\n")),
        ..agents()
    });
    let extra = [
        ("PARLEY_PASSWORD", PASSWORD.to_string()),
        ("PARLEY_OWNER", OWNER.to_string()),
        ("PARLEY_TTL_SECS", ttl.to_string()),
    ];
    tokio::task::block_in_place(|| run_script(&mut srv, "dashboard.mjs", "session", "", &extra));
    // Settings screens: company, business hours, pre-chat, identity, sites, staff; ratings.
    let mut srv = Server::start_with(agents());
    let extra = [
        ("PARLEY_PASSWORD", PASSWORD.to_string()),
        ("PARLEY_OWNER", OWNER.to_string()),
    ];
    tokio::task::block_in_place(|| run_script(&mut srv, "dashboard.mjs", "settings", "", &extra));
    // The instance operator's page.
    let mut srv = Server::start_with(Setup {
        superadmin: Some(("root@ops.test".into(), PASSWORD.into())),
        ..Default::default()
    });
    let extra = [
        ("PARLEY_PASSWORD", PASSWORD.to_string()),
        ("PARLEY_OPERATOR", "root@ops.test".to_string()),
    ];
    tokio::task::block_in_place(|| run_script(&mut srv, "dashboard.mjs", "operator", "", &extra));
    // A team forms with real mail: invitation, reset, password changed.
    if common::smtp::unavailable().is_none() {
        let sink = common::smtp::Smtp::start();
        let mut srv = Server::start_with(Setup {
            config: Some(format!(
                "[mail]\nsmtp_url = \"{}\"\nmissed_reply_after_secs = 1\n",
                sink.url()
            )),
            ..Default::default()
        });
        let extra = [
            ("PARLEY_PASSWORD", PASSWORD.to_string()),
            ("PARLEY_OWNER", OWNER.to_string()),
            (
                "PARLEY_MAILDIR",
                sink.dir.path().to_string_lossy().into_owned(),
            ),
        ];
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "accounts", "", &extra)
        });
    }
}
