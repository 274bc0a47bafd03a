//! The staff dashboard in a real headless Chromium (`http/tests/browser/
//! dashboard.mjs`), against the real server: a chat from the widget
//! answered in the inbox (claim, reply, private note, typing, read receipt,
//! visitor sidebar), live visitors following a page change, a transfer
//! between two agents and a close, two agents' views of one conversation
//! following each other's claim, close, reopen (rating cleared) and a
//! queue switch, roles (agents see no administration),
//! a silent token refresh, and `logout-all` from elsewhere signing the
//! dashboard out, the operator suspending a tenant at `/admin/`, and a team
//! forming with real mail (invitation link, forgot password, reset page,
//! the Account page, the Outbox), and the back office (the company page's
//! contact, booking and newsletter forms, the bell, the consultations
//! calendar, a campaign with one-click unsubscribe, webhooks).
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

/// Whether scenario `name` runs: all of them, or only those named in
/// `PARLEY_ONLY` (comma-separated), to iterate on one.
fn wanted(name: &str) -> bool {
    std::env::var("PARLEY_ONLY").map_or(true, |v| v.split(',').any(|s| s == name))
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
    for name in ["inbox", "transfer", "live"]
        .into_iter()
        .filter(|n| wanted(n))
    {
        let mut srv = Server::start_with(agents());
        tokio::task::block_in_place(|| run_script(&mut srv, "dashboard.mjs", name, "", &pass));
    }
    let owner_pass = || {
        vec![
            ("PARLEY_PASSWORD", PASSWORD.to_string()),
            ("PARLEY_OWNER", OWNER.to_string()),
        ]
    };
    if wanted("session") {
        // Short-lived access tokens: the dashboard must refresh them unnoticed.
        let ttl = 30;
        let mut srv = Server::start_with(Setup {
            config: Some(format!("[auth]\naccess_token_ttl_secs = {ttl}\n")),
            ..agents()
        });
        let mut extra = owner_pass();
        extra.push(("PARLEY_TTL_SECS", ttl.to_string()));
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "session", "", &extra)
        });
    }
    if wanted("settings") {
        // Settings screens: company, business hours, pre-chat, identity, sites, staff; ratings.
        let mut srv = Server::start_with(agents());
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "settings", "", &owner_pass())
        });
    }
    if wanted("operator") {
        // The instance operator's page.
        let mut srv = Server::start_with(Setup {
            superadmin: Some(("root@ops.test".into(), PASSWORD.into())),
            ..Default::default()
        });
        let extra = [
            ("PARLEY_PASSWORD", PASSWORD.to_string()),
            ("PARLEY_OPERATOR", "root@ops.test".to_string()),
        ];
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "operator", "", &extra)
        });
    }
    if wanted("analytics") {
        // Home, Analytics and Performance over a few real chats.
        let mut srv = Server::start_with(agents());
        let (mut staff, _) = srv.staff(OWNER).await;
        let mut visitors = Vec::new();
        for i in 0..3 {
            let (mut v, _) = srv.visitor(None).await;
            let cid = format!("v{i}");
            v.send(serde_json::json!({"type":"send","client_id":cid,"body":"Hello"}))
                .await;
            let conv = v.until_type("ack").await["conversation_id"].clone();
            if i < 2 {
                staff
                    .send(serde_json::json!({"type":"claim","conversation_id":conv}))
                    .await;
                staff.send(serde_json::json!({"type":"send","conversation_id":conv,"client_id":format!("s{i}"),"body":"Hi there"})).await;
                staff.until_type("ack").await;
            }
            visitors.push(v);
        }
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "analytics", "", &owner_pass())
        });
    }
    if common::smtp::unavailable().is_some() {
        return;
    }
    if wanted("accounts") {
        // A team forms with real mail: invitation, reset, password changed.
        let sink = common::smtp::Smtp::start();
        let mut srv = Server::start_with(Setup {
            config: Some(format!(
                "[mail]\nsmtp_url = \"{}\"\nmissed_reply_after_secs = 1\n",
                sink.url()
            )),
            ..Default::default()
        });
        let mut extra = owner_pass();
        extra.push((
            "PARLEY_MAILDIR",
            sink.dir.path().to_string_lossy().into_owned(),
        ));
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "accounts", "", &extra)
        });
    }
    if wanted("backoffice") {
        // The back office: the company page's forms, the bell, bookings,
        // the newsletter and webhooks.
        let sink = common::smtp::Smtp::start();
        let mut srv = Server::start_with(Setup {
            config: Some(format!("[mail]\nsmtp_url = \"{}\"\n", sink.url())),
            ..agents()
        });
        let owner = srv.login(OWNER).await;
        let site = srv.tenant["site_id"].as_str().unwrap().to_string();
        srv.open_bookings(&owner, &site, serde_json::json!({}))
            .await;
        let mut extra = owner_pass();
        extra.push((
            "PARLEY_MAILDIR",
            sink.dir.path().to_string_lossy().into_owned(),
        ));
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "backoffice", "", &extra)
        });
    }
}
