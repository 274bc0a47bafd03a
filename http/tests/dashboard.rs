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
//! calendar, a campaign with one-click unsubscribe, webhooks), and charts and
//! times (`times`: real-size charts on desktop and phone, the Account zone),
//! and the inbox's list pane and a visitor's history (`history`: the queue
//! tabs, one-line previews, every conversation of the visitor, the site's
//! reopen window).
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

/// Three visitors write; the owner claims and answers two. Keeps the
/// sockets (the visitors stay online) for as long as the caller holds them.
async fn few_chats(srv: &Server) -> (Ws, Vec<Ws>) {
    let (mut staff, _) = srv.staff(OWNER).await;
    let mut visitors = Vec::new();
    for i in 0..3 {
        let (mut v, _) = srv.visitor(None).await;
        v.send(serde_json::json!({"type":"send","client_id":format!("v{i}"),"body":"Hello"}))
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
    (staff, visitors)
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
        // Billing on: plans apply, so the operator sets them.
        let mut srv = Server::start_with(Setup {
            superadmin: Some(("root@ops.test".into(), PASSWORD.into())),
            config: Some("[billing]\nenabled = true\n".into()),
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
    if wanted("pages") {
        // Self-hosted with no SMTP: welcome checklist, invitation links,
        // Sites in tabs, the outbox, the audit log, canned responses.
        let mut srv = Server::start_with(Setup::default());
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "pages", "", &owner_pass())
        });
    }
    if wanted("billing") {
        // Billing on with the built-in free plan: locks shown before the click.
        let mut srv = Server::start_with(Setup {
            config: Some("[plans.pro]\nprice_cents = 2900\n[billing]\nenabled = true\n".into()),
            ..Default::default()
        });
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "billing", "", &owner_pass())
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
    if wanted("history") {
        // A visitor's closed conversation and their next one (with a long
        // first line): the list pane, the details' history, the reopen window.
        let mut srv = Server::start_with(agents());
        let long = "I ordered the blue winter jacket in size M two weeks ago and it still has not arrived, could you please check where it is and when I can expect it?";
        let (mut staff, _) = srv.staff(OWNER).await;
        let (mut v, _) = srv.visitor(None).await;
        v.send(serde_json::json!({"type":"send","client_id":"v1","body":"Where is my parcel?"}))
            .await;
        let old = v.until_type("ack").await["conversation_id"].clone();
        staff
            .send(serde_json::json!({"type":"claim","conversation_id":old}))
            .await;
        staff.send(serde_json::json!({"type":"send","conversation_id":old,"client_id":"s1","body":"It left our warehouse today"})).await;
        staff
            .until(|f| f["type"] == "ack" && f["client_id"] == "s1")
            .await;
        staff
            .send(serde_json::json!({"type":"close","conversation_id":old}))
            .await;
        v.until(|f| f["type"] == "conversation" && f["conversation"]["status"] == "closed")
            .await;
        v.send(serde_json::json!({"type":"send","client_id":"v2","body":long}))
            .await;
        let new = v
            .until(|f| f["type"] == "ack" && f["client_id"] == "v2")
            .await;
        assert_ne!(new["conversation_id"], old, "a new conversation");
        let mut extra = owner_pass();
        extra.push(("PARLEY_LONG", long.to_string()));
        tokio::task::block_in_place(|| {
            run_script(&mut srv, "dashboard.mjs", "history", "", &extra)
        });
        drop(v);
    }
    if wanted("times") {
        // Charts at their real size on desktop and phone, values by keyboard,
        // the leaderboard, and the Account time zone changing every time shown.
        let mut srv = Server::start_with(agents());
        let _chats = few_chats(&srv).await;
        // A booking on a site in New York: its detail names the site's zone.
        let owner = srv.login(OWNER).await;
        let site = srv.tenant["site_id"].as_str().unwrap().to_string();
        srv.open_bookings(&owner, &site, serde_json::json!({}))
            .await;
        let days: Vec<serde_json::Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| serde_json::json!({"day": d, "open": "00:00", "close": "23:59"}))
            .collect();
        let r = srv
            .call(
                "PATCH",
                &format!("/api/v1/sites/{site}"),
                Some(&owner),
                Some(serde_json::json!({"business_hours": {"timezone": "America/New_York", "days": days}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let slots = srv.slots(srv.site_key()).await;
        let r = srv
            .call(
                "POST",
                &format!("/api/v1/public/{}/consultations", srv.site_key()),
                None,
                Some(serde_json::json!({"name": "Vic Tor", "email": "vic@visitor.test", "topic": "", "start": slots[0]["start"]})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let mut extra = owner_pass();
        extra.push(("PARLEY_BOOKING", r.body["id"].as_str().unwrap().to_string()));
        tokio::task::block_in_place(|| run_script(&mut srv, "dashboard.mjs", "times", "", &extra));
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
