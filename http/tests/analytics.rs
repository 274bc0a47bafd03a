//! Analytics against the real server: a visitor's chat, page, browser and
//! country; a contact message; a conversation nobody answers in time
//! (missed); the report in the caller's time zone, empty ranges, bad
//! ranges, another tenant's site; staff performance; CSV of each table.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// Polls `GET path` until `ok` holds (writes behind page views are not
/// acknowledged to anyone, so they land a moment later).
async fn until(srv: &Server, t: &str, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = srv.call("GET", path, Some(t), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        if ok(&r.body) || Instant::now() > deadline {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn top(v: &Value, list: &str, name: &str) -> u64 {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .and_then(|x| x["count"].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_report_counts_what_happened_in_the_callers_time_zone() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[analytics]\nmissed_after_secs = 2\nreport_cache_secs = 0\n[actors]\nvisitor_idle_secs = 1\n".into(),
        ),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        tenants: vec!["other@else.test".into()],
        superadmin: Some(("root@ops.test".into(), PASSWORD.into())),
        ..Default::default()
    });
    let t = srv.login(OWNER).await;
    let (mut staff, ready) = srv.staff(OWNER).await;
    let me = ready["staff"]["id"].as_str().unwrap().to_string();

    // A visitor from Paris on Chrome, arriving from a search.
    let url = format!("{}/ws/visitor?site={}", srv.ws, srv.site_key());
    let mut vis = Ws::connect_with(&url, &[("user-agent", CHROME_MAC)]).await;
    vis.send(json!({"type":"hello","tz":"Europe/Paris","page":{"url":"https://acme.test/pricing?plan=pro","title":"Pricing","referrer":"https://www.google.com/search?q=chat"}})).await;
    vis.until_type("welcome").await;
    vis.send(json!({"type":"send","client_id":"v1","body":"Hello?"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    staff.send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"Hi, how can I help?"})).await;
    staff.until_type("ack").await;
    staff.send(json!({"type":"send","conversation_id":conv,"client_id":"s2","body":"a note","private":true})).await;
    staff.until_type("ack").await;
    vis.send(json!({"type":"send","client_id":"v2","body":"Thanks"}))
        .await;
    vis.until_type("ack").await;
    staff
        .send(json!({"type":"close","conversation_id":conv}))
        .await;
    vis.until(|v| v["type"] == "conversation" && v["conversation"]["status"] == "closed")
        .await;
    vis.send(json!({"type":"rate","score":2,"comment":"hm"}))
        .await;
    staff
        .until(|v| v["type"] == "conversation" && v["conversation"]["rating"]["score"] == 2)
        .await;
    // Rated again: the distribution follows the new score.
    vis.send(json!({"type":"rate","score":4,"comment":"better"}))
        .await;
    staff
        .until(|v| v["type"] == "conversation" && v["conversation"]["rating"]["score"] == 4)
        .await;

    // A second visitor nobody answers: missed once it waited 2 s.
    let (mut lonely, _) = srv.visitor(None).await;
    lonely
        .send(json!({"type":"send","client_id":"l1","body":"anyone?"}))
        .await;
    lonely.until_type("ack").await;

    // A contact message.
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/contact", srv.site_key()),
            None,
            Some(json!({"name":"Vera","email":"vera@mail.test","message":"Call me"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let path = "/api/v1/analytics?range=24h&tz=Europe/Paris";
    let a = until(&srv, &t, path, |a| {
        a["totals"]["missed"] == 1 && a["totals"]["visitors"] == 2
    })
    .await;
    let n = |k: &str| {
        a["totals"][k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {a}"))
    };
    assert_eq!(n("conversations"), 2, "{a}");
    assert_eq!(n("missed"), 1, "{a}");
    assert_eq!(n("messages_visitor"), 3, "{a}");
    assert_eq!(
        n("messages_staff"),
        1,
        "notes and system messages are not counted: {a}"
    );
    assert_eq!(n("visitors"), 2, "{a}");
    assert_eq!(n("page_views"), 2, "{a}");
    assert_eq!(n("contact_messages"), 1, "{a}");
    assert!(n("first_response_ms_p50") < 2_000, "{a}");
    assert!(a["totals"]["resolution_ms_p50"].is_u64(), "{a}");
    assert_eq!(a["totals"]["rating_avg"], 4.0, "{a}");
    assert_eq!(a["totals"]["ratings"], json!([0, 0, 0, 1, 0]), "{a}");
    assert_eq!(top(&a, "top_pages", "/pricing"), 1, "{a}");
    assert_eq!(top(&a, "top_pages", "/"), 1, "{a}");
    assert_eq!(top(&a, "referrers", "google.com"), 1, "{a}");
    assert_eq!(top(&a, "referrers", "direct"), 1, "{a}");
    assert_eq!(top(&a, "browsers", "Chrome"), 1, "{a}");
    assert_eq!(top(&a, "os", "macOS"), 1, "{a}");
    assert_eq!(top(&a, "devices", "desktop"), 2, "{a}");
    assert_eq!(top(&a, "countries", "FR"), 1, "{a}");
    assert_eq!(a["geo_source"], "timezone");
    assert_eq!(a["tz"], "Europe/Paris");
    assert_eq!(a["resolution"], "hour");
    // Hours in Paris: the series is labelled with Paris' offset, and the
    // heatmap holds both conversations.
    let series = a["series"].as_array().unwrap();
    assert!((24..=25).contains(&series.len()), "{}", series.len());
    assert!(series.iter().all(|p| {
        let t = p["t"].as_str().unwrap();
        t.ends_with("+01:00") || t.ends_with("+02:00")
    }));
    let in_series: u64 = series
        .iter()
        .map(|p| p["conversations"].as_u64().unwrap())
        .sum();
    assert_eq!(in_series, 2);
    let heat: u64 = a["heatmap"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()))
        .sum();
    assert_eq!(heat, 2);
    // By day, in another zone, the same totals.
    let d = srv
        .call(
            "GET",
            "/api/v1/analytics?range=7d&tz=America/New_York&resolution=day",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["totals"]["conversations"], 2);
    assert!(d.body["series"].as_array().unwrap().len() >= 7);
    assert!(d.body["series"][0]["t"]
        .as_str()
        .unwrap()
        .contains("T00:00:00-0"));

    // One site by id; an empty range long ago; bad ranges; another tenant's site.
    let site = srv.tenant["site_id"].as_str().unwrap();
    let one = srv
        .call(
            "GET",
            &format!("/api/v1/analytics?range=24h&site_id={site}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(one.body["totals"]["conversations"], 2);
    let past = srv
        .call(
            "GET",
            "/api/v1/analytics?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(past.status, 200);
    assert_eq!(past.body["totals"]["conversations"], 0);
    assert_eq!(past.body["series"].as_array().unwrap().len(), 24);
    assert!(past.body["totals"]["first_response_ms_p50"].is_null());
    for bad in [
        "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
        "range=2y",
        "range=24h&tz=Mars/Olympus",
        "from=yesterday",
        "range=30d&resolution=hour&tz=UTC&from=2020-01-01T00:00:00Z",
    ] {
        let r = srv
            .call("GET", &format!("/api/v1/analytics?{bad}"), Some(&t), None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{bad}: {}",
            r.body
        );
    }
    let other = srv.others[0]["site_id"].as_str().unwrap();
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/analytics?site_id={other}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "another tenant's site: {}", r.body);
    let agent = srv.login("agent@acme.test").await;
    let r = srv
        .call("GET", "/api/v1/analytics", Some(&agent), None)
        .await;
    assert_eq!(r.status, 403);

    // Staff performance: the owner answered and closed one chat.
    let s = until(&srv, &t, "/api/v1/analytics/staff?range=24h", |s| {
        s["items"][0]["chats"] == 1
    })
    .await;
    let row = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["staff_id"] == me.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(row["chats"], 1, "{row}");
    assert_eq!(row["messages"], 1, "{row}");
    assert!(row["first_response_ms_p50"].is_u64(), "{row}");
    assert!(row["handle_ms_p50"].is_u64(), "{row}");
    assert_eq!(row["rating_avg"], 4.0, "{row}");
    assert_eq!(s["items"][0]["staff_id"], me.as_str(), "leader first");
    let agent_row = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] != row["name"])
        .cloned()
        .unwrap();
    assert_eq!(agent_row["chats"], 0);

    // CSV of any table.
    let csv = |table: &str| {
        let t = t.clone();
        let url = format!(
            "{}/api/v1/analytics/export.csv?range=24h&table={table}",
            srv.base
        );
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let ty = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, ty, r.text().await.unwrap())
        }
    };
    let (status, ty, body) = csv("top_pages").await;
    assert_eq!(status, 200);
    assert_eq!(ty.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(
        body.starts_with("\"page\",\"count\"\n") && body.contains("\"/pricing\",\"1\""),
        "{body}"
    );
    let (_, _, body) = csv("series").await;
    // A header, then each hour the last 24 hours touch (24, or 25 when
    // they start inside an hour).
    assert!((25..=26).contains(&body.lines().count()), "{body}");
    let (_, _, body) = csv("staff").await;
    assert!(body.contains("\"Olive\",\"1\",\"1\","), "{body}");
    let (_, _, body) = csv("heatmap").await;
    assert_eq!(body.lines().count(), 8);
    let (status, _, _) = csv("nope").await;
    assert_eq!(status, 400);

    // The operator's platform totals: messages a day, from the buckets.
    let op = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email": "root@ops.test", "password": PASSWORD})),
        )
        .await;
    let op = op.body["access_token"].as_str().unwrap().to_string();
    let stats = srv
        .call("GET", "/api/v1/admin/stats", Some(&op), None)
        .await;
    let days = stats.body["messages_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 7, "{}", stats.body);
    let sum: u64 = days.iter().map(|d| d["messages"].as_u64().unwrap()).sum();
    assert_eq!(
        sum, 4,
        "three from the visitors, one from staff: {}",
        stats.body
    );

    // Online time: written when the owner's last socket goes.
    drop(staff);
    let s = until(&srv, &t, "/api/v1/analytics/staff?range=24h", |s| {
        s["items"][0]["online_secs"].as_u64() >= Some(1)
    })
    .await;
    assert!(s["items"][0]["online_secs"].as_u64() >= Some(1), "{s}");
}

/// Writes a MaxMind database that places loopback in Germany (with the
/// `mmdb-writer` package from PyPI); `None` when it is not installed.
fn loopback_in_germany(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let path = dir.join("country.mmdb");
    let script = format!(
        "from mmdb_writer import MMDBWriter\nfrom netaddr import IPSet\n\
         w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type='GeoLite2-Country')\n\
         w.insert_network(IPSet(['127.0.0.0/8']), {{'country': {{'iso_code': 'DE'}}}})\n\
         w.to_db_file({:?})\n",
        path.to_str().unwrap()
    );
    let ok = std::process::Command::new("python3")
        .args(["-c", &script])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "the GeoIP test needs mmdb-writer from PyPI (`bash .ci/run` installs it)"
        );
        eprintln!("skipping the GeoIP test: pip install mmdb-writer");
        return None;
    }
    Some(path)
}

#[tokio::test]
async fn countries_come_from_a_geoip_database_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = loopback_in_germany(dir.path()) else {
        return;
    };
    let srv = Server::start_with(Setup {
        config: Some(format!(
            "[analytics]\ngeoip_path = {:?}\nreport_cache_secs = 0\n",
            db.to_str().unwrap()
        )),
        ..Default::default()
    });
    let t = srv.login(OWNER).await;
    // The browser says Paris; the address says Germany, and wins.
    let url = format!("{}/ws/visitor?site={}", srv.ws, srv.site_key());
    let mut vis = Ws::connect_with(&url, &[("user-agent", CHROME_MAC)]).await;
    vis.send(json!({"type":"hello","tz":"Europe/Paris","page":{"url":"https://acme.test/","title":"Home","referrer":""}})).await;
    vis.until_type("welcome").await;
    let a = until(&srv, &t, "/api/v1/analytics?range=24h", |a| {
        a["totals"]["visitors"] == 1
    })
    .await;
    assert_eq!(a["geo_source"], "geoip", "{a}");
    assert_eq!(top(&a, "countries", "DE"), 1, "{a}");
    assert_eq!(top(&a, "countries", "FR"), 0, "{a}");
}

/// A year of reports: a report is kept a minute for the same request (a
/// visitor arriving after it shows in a new request at once, in that one
/// only after the minute); four asked at once by one tenant give one
/// report; a year reads its whole days from daily rollups and counts the
/// same as its hours.
#[tokio::test]
async fn a_year_of_reports_is_kept_a_minute_and_made_once_for_four_asks() {
    let srv = Server::start_with(Setup {
        config: Some("[analytics]\nreport_cache_secs = 60\nreports_per_tenant = 1\n".into()),
        ..Default::default()
    });
    let t = srv.login(OWNER).await;
    let year = "/api/v1/analytics?range=365d&tz=Europe/Paris";
    let before = srv.call("GET", year, Some(&t), None).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.body["totals"]["visitors"], 0);
    let url = format!("{}/ws/visitor?site={}", srv.ws, srv.site_key());
    let mut vis = Ws::connect_with(&url, &[("user-agent", CHROME_MAC)]).await;
    vis.send(json!({"type":"hello","tz":"Europe/Paris","page":{"url":"https://acme.test/","title":"Home","referrer":""}})).await;
    vis.until_type("welcome").await;
    // A request not asked before (its own end) is made afresh.
    let deadline = Instant::now() + Duration::from_secs(15);
    let fresh = loop {
        let to = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(3_600))
            .unwrap();
        let from = to
            .checked_sub(jiff::SignedDuration::from_hours(400 * 24 - 2))
            .unwrap();
        let path = format!("/api/v1/analytics?from={from}&to={to}&tz=Europe/Paris");
        let r = srv.call("GET", &path, Some(&t), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["totals"]["visitors"] == 1 || Instant::now() > deadline {
            break r.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(fresh["totals"]["visitors"], 1, "{fresh}");
    assert_eq!(top(&fresh, "browsers", "Chrome"), 1, "{fresh}");
    let days = fresh["series"].as_array().unwrap();
    assert!((399..=401).contains(&days.len()), "{}", days.len());
    let counted: u64 = days.iter().map(|d| d["visitors"].as_u64().unwrap()).sum();
    assert_eq!(counted, 1, "the series counts the hour once");
    // The year asked before is kept: the visitor is not in it yet.
    let again = srv.call("GET", year, Some(&t), None).await;
    assert_eq!(again.body, before.body, "kept for the minute");
    // Four at once (one turn per tenant here): one report, the same four times.
    let other = "/api/v1/analytics?range=365d&tz=America/New_York";
    let asks = (0..4).map(|_| srv.call("GET", other, Some(&t), None));
    let got = futures_util::future::join_all(asks).await;
    for r in &got {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, got[0].body);
    }
    assert_eq!(got[0].body["totals"]["visitors"], 1, "{}", got[0].body);
    assert_eq!(
        got[0].body["totals"]["page_views"],
        fresh["totals"]["page_views"]
    );
}
