//! Consultations against the real server and a real SMTP server on
//! loopback: slots from business hours, 50 visitors racing for one slot
//! (exactly one wins), one staff member never booked twice across sites,
//! the confirmation mail's `.ics` and its single-use cancel and reschedule
//! links, staff's status changes, and bad input.

mod common;

use base64::Engine;
use common::smtp::{self, Smtp};
use common::*;
use serde_json::{json, Value};

struct World {
    srv: Server,
    sink: Smtp,
    owner: String,
    site: String,
}

/// A server with bookings open on its site (every day, 30-minute slots)
/// and a real SMTP server. One per test: a static one would outlive the
/// test binary (statics are never dropped) and keep its processes alive.
async fn world() -> Option<World> {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return None;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(format!(
            "[mail]\nsmtp_url = \"{}\"\nfrom = \"Acme <desk@acme.test>\"\nretry_base_secs = 1\n",
            sink.url()
        )),
        ..Default::default()
    });
    let pair = srv.pair(OWNER, PASSWORD).await;
    let owner = pair["access_token"].as_str().unwrap().to_string();
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    srv.open_bookings(&owner, &site, json!({"topics": ["SEO", "Ads"]}))
        .await;
    Some(World {
        srv,
        sink,
        owner,
        site,
    })
}

fn book_body(email: &str, start: &Value) -> Value {
    json!({"name": "Vic Tor", "email": email, "topic": "SEO", "start": start, "company": "Shop"})
}

async fn book(w: &World, key: &str, email: &str, start: &Value) -> Resp {
    w.srv
        .call(
            "POST",
            &format!("/api/v1/public/{key}/consultations"),
            None,
            Some(book_body(email, start)),
        )
        .await
}

/// The signed token of the `/l/` link in a mail's text body.
fn link_token(mail: &Value) -> String {
    let body = mail["text"].as_str().unwrap();
    let at = body.find("/l/").expect("a link in the mail") + 3;
    body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

fn ics(mail: &Value) -> String {
    let a = mail["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["content_type"] == "text/calendar")
        .unwrap_or_else(|| panic!("no .ics in {mail}"));
    let data = base64::engine::general_purpose::STANDARD
        .decode(a["data"].as_str().unwrap())
        .unwrap();
    String::from_utf8(data).unwrap()
}

/// A slot start `day` days after today (UTC) at `hh:mm`, as the API writes it.
fn at(day: i64, hh: u32, mm: u32) -> Value {
    let date = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(day))
        .unwrap();
    json!(format!("{date}T{hh:02}:{mm:02}:00.000Z"))
}

/// The slot of `slots` that starts at `start`.
fn slot_of(slots: &[Value], start: &Value) -> Value {
    slots
        .iter()
        .find(|s| s["start"] == *start)
        .cloned()
        .unwrap_or_else(|| panic!("{start} is not offered: {slots:?}"))
}

fn ics_time(rfc3339: &str) -> String {
    // 2026-12-01T09:30:00.000Z → 20261201T093000Z
    let digits: String = rfc3339[..19]
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    format!("{}T{}Z", &digits[..8], &digits[8..14])
}

#[tokio::test]
async fn fifty_visitors_race_for_one_slot_and_exactly_one_gets_it() {
    let Some(w) = world().await else { return };
    let key = w.srv.site_key().to_string();
    let slot = slot_of(&w.srv.slots(&key).await, &at(1, 10, 0))["start"].clone();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (base, key, slot) = (w.srv.base.clone(), key.clone(), slot.clone());
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .post(format!("{base}/api/v1/public/{key}/consultations"))
                    .json(&book_body(&format!("racer{i}@v.test"), &slot))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body)
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => won += 1,
            409 => assert_eq!(body["error"]["code"], "slot_taken", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(won, 1, "exactly one booking of the slot");
    let list = w
        .srv
        .call(
            "GET",
            "/api/v1/consultations?limit=500",
            Some(&w.owner),
            None,
        )
        .await;
    let at_slot = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["start"] == slot)
        .count();
    assert_eq!(at_slot, 1, "one stored booking at the slot");
    assert!(
        !w.srv.slots(&key).await.iter().any(|s| s["start"] == slot),
        "the slot is no longer offered"
    );
}

#[tokio::test]
async fn a_staff_member_is_never_booked_twice_across_sites() {
    let Some(w) = world().await else { return };
    let r = w
        .srv
        .call(
            "POST",
            "/api/v1/sites",
            Some(&w.owner),
            Some(json!({"name": "Second shop"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (site2, key2) = (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["key"].as_str().unwrap().to_string(),
    );
    w.srv.open_bookings(&w.owner, &site2, json!({})).await;
    let slot = slot_of(&w.srv.slots(w.srv.site_key()).await, &at(1, 12, 0))["start"].clone();
    let first = book(&w, w.srv.site_key(), "one@v.test", &slot).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // The only owner takes bookings on both sites: booked on the first.
    assert!(!w.srv.slots(&key2).await.iter().any(|s| s["start"] == slot));
    let r = w
        .srv
        .call(
            "POST",
            &format!("/api/v1/public/{key2}/consultations"),
            None,
            Some(json!({"name": "Two", "email": "two@v.test", "start": slot})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "slot_taken");
}

#[tokio::test]
async fn a_booking_mails_an_ics_and_a_single_use_link_that_cancels_it() {
    let Some(w) = world().await else { return };
    let key = w.srv.site_key().to_string();
    let slot = slot_of(&w.srv.slots(&key).await, &at(2, 9, 0));
    let r = book(&w, &key, "cal@v.test", &slot["start"]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "requested");
    assert_eq!(r.body["start"], slot["start"]);
    assert_eq!(r.body["end"], slot["end"]);
    let id = r.body["id"].as_str().unwrap().to_string();
    let mail = w.sink.wait_for("cal@v.test", "Your consultation").await;
    let subject = mail["headers"]["subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("Your consultation with "),
        "a subject starts with a capital: {subject}"
    );
    let cal = ics(&mail);
    assert!(cal.contains("METHOD:REQUEST"), "{cal}");
    assert!(
        cal.contains(&format!(
            "DTSTART:{}",
            ics_time(slot["start"].as_str().unwrap())
        )),
        "{cal}"
    );
    assert!(cal.contains(&format!(
        "DTEND:{}",
        ics_time(slot["end"].as_str().unwrap())
    )));
    assert!(cal.contains(&format!("UID:{id}@")));
    // RFC 5545 CAL-ADDRESSes: the sender's name as CN, `mailto:` and the
    // bare address (it was `mailto:Acme <desk@acme.test>`).
    assert!(
        cal.contains("ORGANIZER;CN=Acme:mailto:desk@acme.test\r\n"),
        "{cal}"
    );
    assert!(
        cal.contains("ATTENDEE;CN=Vic Tor:mailto:cal@v.test\r\n"),
        "{cal}"
    );
    assert!(mail["html"].as_str().unwrap().contains("Cancel or move"));
    let token = link_token(&mail);
    // The page opens for the link, and the API says what it is for.
    let page = send(reqwest::Client::new().get(format!("{}/l/{token}", w.srv.base))).await;
    assert_eq!(page.status, 200);
    let info = w
        .srv
        .call("GET", &format!("/api/v1/public/links/{token}"), None, None)
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["act"], "booking");
    assert_eq!(info.body["booking"]["start"], slot["start"]);
    // A tampered link changes nothing.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = w
        .srv
        .call(
            "POST",
            &format!("/api/v1/public/links/{forged}"),
            None,
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"), "{}", r.body);
    assert!(!w
        .srv
        .slots(&key)
        .await
        .iter()
        .any(|s| s["start"] == slot["start"]));
    // The real one cancels: the slot is free again, a CANCEL goes out.
    let r = w
        .srv
        .call(
            "POST",
            &format!("/api/v1/public/links/{token}"),
            None,
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert!(w
        .srv
        .slots(&key)
        .await
        .iter()
        .any(|s| s["start"] == slot["start"]));
    let gone = w.sink.wait_for("cal@v.test", "Cancelled").await;
    assert!(ics(&gone).contains("METHOD:CANCEL"));
    // Used once: it works no more, and describes nothing.
    let again = w
        .srv
        .call(
            "POST",
            &format!("/api/v1/public/links/{token}"),
            None,
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert_eq!((again.status, again.code()), (401, "invalid_token"));
    let info = w
        .srv
        .call("GET", &format!("/api/v1/public/links/{token}"), None, None)
        .await;
    assert_eq!(info.status, 401);
    let b = w
        .srv
        .call(
            "GET",
            &format!("/api/v1/consultations/{id}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(b.body["status"], "cancelled");
    let what: Vec<&str> = b.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["requested", "cancelled"]);
}

#[tokio::test]
async fn a_visitor_moves_their_booking_and_staff_confirm_it() {
    let Some(w) = world().await else { return };
    let key = w.srv.site_key().to_string();
    let slots = w.srv.slots(&key).await;
    let (from, to) = (
        slot_of(&slots, &at(2, 14, 0))["start"].clone(),
        slot_of(&slots, &at(2, 15, 30))["start"].clone(),
    );
    let r = book(&w, &key, "move@v.test", &from).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let token = link_token(&w.sink.wait_for("move@v.test", "Your consultation").await);
    let r = w
        .srv
        .call(
            "POST",
            &format!("/api/v1/public/links/{token}"),
            None,
            Some(json!({"action": "reschedule", "start": to})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["start"], to);
    let free = w.srv.slots(&key).await;
    assert!(
        free.iter().any(|s| s["start"] == from),
        "the old slot is free"
    );
    assert!(
        !free.iter().any(|s| s["start"] == to),
        "the new one is taken"
    );
    let moved = w.sink.wait_for("move@v.test", "Moved").await;
    assert!(ics(&moved).contains(&format!("DTSTART:{}", ics_time(to.as_str().unwrap()))));
    assert_ne!(
        link_token(&moved),
        token,
        "a fresh link for the moved booking"
    );
    // Staff confirm: the visitor gets the confirmation with the invitation.
    let patch = |body: Value| {
        let (srv, owner, id) = (&w.srv, w.owner.clone(), id.clone());
        async move {
            srv.call(
                "PATCH",
                &format!("/api/v1/consultations/{id}"),
                Some(&owner),
                Some(body),
            )
            .await
        }
    };
    let r = patch(json!({"status": "confirmed", "notes": "bring the numbers"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "confirmed");
    assert_eq!(r.body["notes"], "bring the numbers");
    assert!(r.body["assignee"].is_string());
    let confirmed = w.sink.wait_for("move@v.test", "Confirmed").await;
    assert!(ics(&confirmed).contains("STATUS:CONFIRMED"));
    // Forward only.
    let r = patch(json!({"status": "completed"})).await;
    assert_eq!(r.status, 200);
    let r = patch(json!({"status": "confirmed"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_state"), "{}", r.body);
    let r = patch(json!({"status": "postponed"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
    let r = patch(json!({"assignee": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
    // Filters.
    let r = w
        .srv
        .call(
            "GET",
            "/api/v1/consultations?status=completed",
            Some(&w.owner),
            None,
        )
        .await;
    assert!(r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["status"] == "completed"));
    assert!(r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["id"] == id));
}

#[tokio::test]
async fn bad_bookings_get_the_contracts_errors_and_change_nothing() {
    let Some(w) = world().await else { return };
    let key = w.srv.site_key().to_string();
    let slot = slot_of(&w.srv.slots(&key).await, &at(3, 10, 0))["start"].clone();
    let post = |key: String, body: Value| {
        let srv = &w.srv;
        async move {
            srv.call(
                "POST",
                &format!("/api/v1/public/{key}/consultations"),
                None,
                Some(body),
            )
            .await
        }
    };
    let r = post("nosuchkey".into(), book_body("a@v.test", &slot)).await;
    assert_eq!(r.status, 404);
    let r = post(key.clone(), json!({"email": "a@v.test", "start": slot})).await;
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{}", r.body);
    let mut long = book_body("a@v.test", &slot);
    long["name"] = json!("x".repeat(101));
    let r = post(key.clone(), long).await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
    let mut topic = book_body("a@v.test", &slot);
    topic["topic"] = json!("Knitting");
    let r = post(key.clone(), topic).await;
    assert_eq!((r.status, r.code()), (400, "invalid"), "{}", r.body);
    // Not on a slot boundary, in the past, or past the horizon.
    let s = slot.as_str().unwrap();
    let off = format!("{}07:00.000Z", &s[..14]);
    for start in [off.as_str(), "2020-01-01T10:00:00Z", "2099-01-01T10:00:00Z"] {
        let r = post(key.clone(), book_body("a@v.test", &json!(start))).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "slot_unavailable"),
            "{start}: {}",
            r.body
        );
    }
    // A window the wrong way round.
    let r = w
        .srv
        .call(
            "GET",
            &format!("/api/v1/public/{key}/consultations/slots?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z"),
            None,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    // None of it was booked.
    assert!(w.srv.slots(&key).await.iter().any(|s| s["start"] == slot));
    // Rules are checked on the site, too.
    let r = w
        .srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{}", w.site),
            Some(&w.owner),
            Some(json!({"consultations": {"enabled": true, "slot_minutes": 0}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
}

#[tokio::test]
async fn a_reminder_with_the_invitation_goes_out_before_the_consultation() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let start = at(1, 10, 0);
    let s: jiff::Timestamp = start.as_str().unwrap().parse().unwrap();
    // The reminder falls due a few seconds from now.
    let lead = (s.as_second() - jiff::Timestamp::now().as_second() - 6).max(1);
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(format!(
            "[mail]\nsmtp_url = \"{}\"\n[bookings]\nreminder_before_secs = {lead}\nsweep_secs = 1\n",
            sink.url()
        )),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    srv.open_bookings(&owner, &site, json!({})).await;
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/consultations", srv.site_key()),
            None,
            Some(book_body("soon@v.test", &start)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let reminder = sink.wait_for("soon@v.test", "Reminder").await;
    assert!(ics(&reminder).contains(&format!("DTSTART:{}", ics_time(start.as_str().unwrap()))));
    assert!(
        reminder["text"].as_str().unwrap().contains("/l/"),
        "a link to cancel or move"
    );
    // Once only.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let n = sink
        .messages()
        .iter()
        .filter(|m| {
            m["headers"]["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("Reminder")
        })
        .count();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_booking_keeps_the_visitors_time_zone_for_staff() {
    let Some(w) = world().await else { return };
    let key = w.srv.site_key().to_string();
    let slots = w.srv.slots(&key).await;
    let (one, two) = (
        slot_of(&slots, &at(2, 10, 0))["start"].clone(),
        slot_of(&slots, &at(2, 11, 0))["start"].clone(),
    );
    let post = |body: Value| {
        let srv = &w.srv;
        let key = key.clone();
        async move {
            srv.call(
                "POST",
                &format!("/api/v1/public/{key}/consultations"),
                None,
                Some(body),
            )
            .await
        }
    };
    // Not a zone jiff knows: refused, and the slot stays free.
    let mut bad = book_body("tz@v.test", &one);
    bad["timezone"] = json!("Mars/Olympus_Mons");
    let r = post(bad).await;
    assert_eq!((r.status, r.code()), (400, "invalid"), "{}", r.body);
    assert!(w.srv.slots(&key).await.iter().any(|s| s["start"] == one));
    // The browser's zone is kept and shown to staff with the booking.
    let mut body = book_body("tz@v.test", &one);
    body["timezone"] = json!("Europe/Paris");
    let r = post(body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    // The visitor's mail tells the time in their own zone, named.
    let mail = w.sink.wait_for("tz@v.test", "Your consultation").await;
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("(Europe/Paris)"), "{text}");
    let got = w
        .srv
        .call(
            "GET",
            &format!("/api/v1/consultations/{id}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["timezone"], "Europe/Paris", "{}", got.body);
    let list = w
        .srv
        .call("GET", "/api/v1/consultations", Some(&w.owner), None)
        .await;
    assert!(
        list.body.to_string().contains("Europe/Paris"),
        "{}",
        list.body
    );
    // Without one (an API client), the zone is simply unknown.
    let r = post(book_body("api@v.test", &two)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let got = w
        .srv
        .call(
            "GET",
            &format!("/api/v1/consultations/{id}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(got.body["timezone"], "", "{}", got.body);
}
