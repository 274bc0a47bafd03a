//! The edge: sign-in rate limits (per IP and per account, 429 with
//! `Retry-After`), the JSON body limit, request ids, security headers and
//! access logs without secrets.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn sign_in_attempts_are_limited_per_account_and_per_ip() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 6\nlogin_per_account_per_minute = 3\n".into(),
        ),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let attempt = |email: &'static str, pw: &'static str| {
        srv.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": pw})),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt(OWNER, "wrong password 1").await.status, 401);
    }
    // The account's budget is spent: even the right password waits.
    let r = attempt(OWNER, PASSWORD).await;
    assert_eq!(
        (r.status, r.code()),
        (429, "too_many_requests"),
        "{}",
        r.body
    );
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // Another account from the same address still has its own budget, until
    // the address's budget runs out (6 a minute, 4 used so far).
    assert_eq!(attempt("agent@acme.test", PASSWORD).await.status, 200);
    assert_eq!(
        attempt("agent@acme.test", "wrong password 1").await.status,
        401
    );
    let r = attempt("agent@acme.test", PASSWORD).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // The server is fine otherwise.
    let h = srv.call("GET", "/healthz", None, None).await;
    assert_eq!(h.status, 200);
}

/// The `name=value` of the device cookie a sign-in answer sets.
fn device_cookie(r: &Resp) -> String {
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("parley_device_"))
        .expect("a device cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

/// Issue 28 finding 2: the account's budget of failures is shared by every
/// address, so guessing from 30 addresses is slowed as from one, while a
/// browser the owner signed in from before keeps its own budget.
#[tokio::test]
async fn distributed_guessing_is_slowed_but_never_locks_the_owner_out() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 100\nlogin_per_account_per_minute = 100\nlogin_free_failures = 5\nlogin_failures_per_account_per_hour = 6\n".into(),
        ),
        ..Default::default()
    });
    let url = format!("{}/api/v1/auth/login", srv.base);
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    };
    // The owner signed in from this browser last week.
    let owner = from(1);
    let first = send(
        owner
            .post(&url)
            .json(&json!({"email": OWNER, "password": PASSWORD})),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let cookie = device_cookie(&first);
    // 30 guesses, each from an address of its own: 5 free failures, then
    // growing waits, and (so this test never races the clock) at most 6
    // failures an hour.
    let mut answers = Vec::new();
    for i in 0..30u8 {
        let r = send(
            from(20 + i)
                .post(&url)
                .json(&json!({"email": OWNER, "password": format!("guess number {i}")})),
        )
        .await;
        if r.status == 429 {
            let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!(wait >= 1, "Retry-After {wait}");
        }
        answers.push(r.status);
    }
    let wrong = answers.iter().filter(|s| **s == 401).count();
    let slowed = answers.iter().filter(|s| **s == 429).count();
    assert!(wrong <= 6 && wrong + slowed == 30, "{answers:?}");
    // A browser the account has never seen waits too, whatever its address…
    let r = send(
        from(99)
            .post(&url)
            .json(&json!({"email": OWNER, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    // …but the owner's own browser signs in at once, and its own typo
    // spends its own budget.
    let typo = send(
        owner
            .post(&url)
            .header("cookie", &cookie)
            .json(&json!({"email": OWNER, "password": "my typo 123"})),
    )
    .await;
    assert_eq!(typo.status, 401, "{}", typo.body);
    let r = send(
        owner
            .post(&url)
            .header("cookie", format!("theme=dark; {cookie}"))
            .json(&json!({"email": OWNER, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        device_cookie(&r).split('=').next(),
        cookie.split('=').next()
    );
    // A forged or foreign cookie is no way around the budget.
    let (name, value) = cookie.split_once('=').unwrap();
    let forged = format!("{name}={}x", &value[..value.len() - 1]);
    let r = send(
        from(98)
            .post(&url)
            .header("cookie", forged)
            .json(&json!({"email": OWNER, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
}

#[tokio::test]
async fn bodies_are_limited_and_every_answer_has_an_id_and_headers() {
    let srv = Server::start();
    let big = json!({"email": "a@b.test", "password": "x".repeat(11 * 1024)});
    let r = srv
        .call("POST", "/api/v1/auth/login", None, Some(big))
        .await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    let r = send(
        reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", srv.base))
            .body("{}"),
    )
    .await;
    assert_eq!(r.status, 415, "JSON needs its content type");
    for path in ["/", "/healthz", "/api/v1/nope", "/api/v1/me"] {
        let r = srv.call("GET", path, None, None).await;
        let id = r.header("x-request-id").unwrap_or("");
        assert_eq!(id.len(), 26, "{path}: request id {id:?}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            r.header("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    let r = srv.call("GET", "/api/v1/nope", None, None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    // A client's own request id is kept.
    let r = send(
        reqwest::Client::new()
            .get(format!("{}/healthz", srv.base))
            .header("x-request-id", "client-chosen-id"),
    )
    .await;
    assert_eq!(r.header("x-request-id"), Some("client-chosen-id"));
}

#[tokio::test]
async fn access_logs_name_the_route_and_staff_but_no_secret() {
    let srv = Server::start();
    let pair = srv.pair(OWNER, PASSWORD).await;
    let token = pair["access_token"].as_str().unwrap();
    let me = srv.call("GET", "/api/v1/me", Some(token), None).await;
    assert_eq!(me.status, 200);
    let rid = me.header("x-request-id").unwrap().to_string();
    // The log is written as the response leaves; give it a moment.
    let mut line = None;
    for _ in 0..50 {
        line = srv
            .log()
            .lines()
            .find(|l| l.contains(&rid) && l.contains("parley::access"))
            .map(str::to_string);
        if line.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let line = line.expect("an access log line for the request");
    let staff = pair["staff_id"].as_str().unwrap();
    for want in [
        "route=\"/api/v1/me\"",
        "status=200",
        "duration_ms=",
        &format!("who=\"staff:{staff}\""),
    ] {
        assert!(line.contains(want), "{want} missing from {line}");
    }
    let log = srv.log();
    let refresh = pair["refresh_token"].as_str().unwrap();
    assert!(!log.contains(token), "access token in the log");
    assert!(!log.contains(refresh), "refresh token in the log");
    assert!(!log.contains(PASSWORD), "password in the log");
}

#[tokio::test]
async fn the_api_budget_per_address_answers_429_then_recovers() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 100\nlogin_per_account_per_minute = 100\napi_per_ip_per_second = 2\napi_burst = 3\n".into(),
        ),
        ..Default::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(srv.call("GET", "/api/v1/openapi.json", None, None).await);
    }
    let limited = statuses
        .iter()
        .find(|r| r.status == 429)
        .expect("a burst over the budget is refused");
    assert_eq!(limited.code(), "too_many_requests");
    assert!(limited.header("retry-after").is_some());
    // Pages and health checks are outside the API budget.
    assert_eq!(srv.call("GET", "/healthz", None, None).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(
        srv.call("GET", "/api/v1/openapi.json", None, None)
            .await
            .status,
        200
    );
}
