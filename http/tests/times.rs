//! Times, one way (issue 29): a staff member's time zone is stored with
//! them, checked as an IANA name, read back by `/me` and the staff socket;
//! mail shows every time in the recipient's zone when known, else the
//! site's, always with the zone named and never as a raw ISO string — over
//! a real SMTP server on loopback.

mod common;

use common::smtp::{self, Smtp};
use common::*;
use serde_json::{json, Value};

fn bearer(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

/// Whether `text` holds an RFC 3339 timestamp such as `2026-12-07T16:06`.
fn has_iso(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(16).any(|w| {
        let d = |i: usize| w[i].is_ascii_digit();
        d(0) && d(1)
            && d(2)
            && d(3)
            && w[4] == b'-'
            && d(5)
            && d(6)
            && w[7] == b'-'
            && d(8)
            && d(9)
            && w[10] == b'T'
            && d(11)
            && d(12)
            && w[13] == b':'
            && d(14)
            && d(15)
    })
}

/// `rfc3339` as mail writes it in `zone`: `Mon 7 Dec 2026, 16:06`.
fn local(rfc3339: &str, zone: &str) -> String {
    let t: jiff::Timestamp = rfc3339.parse().unwrap();
    t.in_tz(zone)
        .unwrap()
        .strftime("%a %-d %b %Y, %H:%M")
        .to_string()
}

#[tokio::test]
async fn a_staff_time_zone_is_checked_stored_and_read_back() {
    let srv = Server::start();
    let owner = srv.pair(OWNER, PASSWORD).await;
    let patch = |tz: Value| {
        srv.call(
            "PATCH",
            "/api/v1/me",
            Some(bearer(&owner)),
            Some(json!({ "timezone": tz })),
        )
    };

    let r = patch(json!("Mars/Olympus_Mons")).await;
    assert_eq!((r.status, r.code()), (400, "invalid"), "{}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("timezone") && message.contains("IANA"),
        "{message}"
    );
    let me = srv
        .call("GET", "/api/v1/me", Some(bearer(&owner)), None)
        .await;
    assert_eq!(
        me.body["prefs"]["timezone"],
        Value::Null,
        "a refused zone is not stored"
    );

    let r = patch(json!("Asia/Tokyo")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["prefs"]["timezone"], "Asia/Tokyo");
    let me = srv
        .call("GET", "/api/v1/me", Some(bearer(&owner)), None)
        .await;
    assert_eq!(me.body["prefs"]["timezone"], "Asia/Tokyo", "{}", me.body);
    assert_eq!(
        me.body["prefs"]["contact_alerts"], true,
        "other preferences keep"
    );
    let (_ws, ready) = srv.staff(OWNER).await;
    assert_eq!(ready["staff"]["timezone"], "Asia/Tokyo", "{ready}");

    // Changing another preference keeps the zone; "" goes back to the browser's.
    let r = srv
        .call(
            "PATCH",
            "/api/v1/me",
            Some(bearer(&owner)),
            Some(json!({"contact_alerts": false})),
        )
        .await;
    assert_eq!(r.body["prefs"]["timezone"], "Asia/Tokyo", "{}", r.body);
    let r = patch(json!("")).await;
    assert_eq!(
        (r.status, &r.body["prefs"]["timezone"]),
        (200, &Value::Null),
        "{}",
        r.body
    );
    let (_ws, ready) = srv.staff(OWNER).await;
    assert!(ready["staff"].get("timezone").is_none(), "{ready}");
}

#[tokio::test]
async fn mails_show_times_in_the_recipients_or_the_sites_zone_named_never_iso() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(format!(
            "[mail]\nsmtp_url = \"{}\"\nfrom = \"Acme <desk@acme.test>\"\nretry_base_secs = 1\n",
            sink.url()
        )),
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    let t = bearer(&owner);
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    // The site lives in New York: bookings all day, every day.
    let days: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
        .collect();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{site}"),
            Some(t),
            Some(json!({
                "business_hours": {"timezone": "America/New_York", "days": days},
                "consultations": {"enabled": true, "slot_minutes": 30, "min_notice_hours": 0, "horizon_days": 7},
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A contact-form message answered by staff: "You wrote on …" in the site's zone.
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/contact", srv.site_key()),
            None,
            Some(json!({"name": "Vic", "email": "vic@visitor.test", "message": "Do you ship?", "website": ""})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let c = srv
        .call(
            "GET",
            &format!("/api/v1/contact-messages/{id}"),
            Some(t),
            None,
        )
        .await;
    let wrote = c.body["created_at"].as_str().unwrap().to_string();
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/contact-messages/{id}/replies"),
            Some(t),
            Some(json!({"body": "Yes, everywhere."})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let m = sink.wait_for("vic@visitor.test", "Re: your message").await;
    let expect = format!(
        "You wrote on {} (America/New_York)",
        local(&wrote, "America/New_York")
    );
    for part in ["text", "html"] {
        let body = m[part].as_str().unwrap();
        assert!(body.contains(&expect), "{part} lacks {expect:?}: {body}");
        assert!(!has_iso(body), "{part} shows a raw ISO time: {body}");
    }

    // A booking: the slot in the site's zone, named, in subject and body.
    let slots = srv.slots(srv.site_key()).await;
    let slot = slots[slots.len() / 2].clone();
    let start = slot["start"].as_str().unwrap();
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/consultations", srv.site_key()),
            None,
            Some(json!({"name": "Vic Tor", "email": "cal@visitor.test", "topic": "", "start": start})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let m = sink.wait_for("cal@visitor.test", "consultation").await;
    let when = local(start, "America/New_York");
    let subject = m["headers"]["subject"].as_str().unwrap();
    assert!(
        subject.contains(&format!("{when} (America/New_York)")),
        "{subject}"
    );
    for part in ["text", "html"] {
        let body = m[part].as_str().unwrap();
        assert!(
            body.contains(&when) && body.contains("(America/New_York)"),
            "{part}: {body}"
        );
        assert!(!has_iso(body), "{part} shows a raw ISO time: {body}");
    }

    // Mail to a staff member who chose a zone: in theirs.
    let r = srv
        .call(
            "PATCH",
            "/api/v1/me",
            Some(t),
            Some(json!({"timezone": "Asia/Kolkata"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = srv
        .call(
            "POST",
            "/api/v1/me/password",
            Some(t),
            Some(json!({"current_password": PASSWORD, "new_password": "another horse 42"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = sink.wait_for(OWNER, "was changed").await;
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("(Asia/Kolkata)"), "{text}");
    assert!(!has_iso(text), "{text}");
}
