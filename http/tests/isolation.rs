//! Tenant isolation and permissions in one table: every route × {no token,
//! expired token, forged token, agent, admin, owner, another tenant's
//! owner, the instance operator} × the status it must answer. The same
//! table proves the OpenAPI document lists exactly the routes served.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "isolation/routes.rs"]
mod routes;
use routes::{rows, Fix, Row, WHO};

struct World {
    srv: Server,
    owner_id: String,
    tenant_id: String,
    victim: String,
    site: String,
    tenant_c: String,
    conversation: String,
    visitor: String,
    canned: String,
    mail: String,
    contact: String,
    booking: String,
    campaign: String,
    webhook: String,
    counter: AtomicUsize,
}

impl World {
    async fn start() -> Self {
        let srv = Server::start_with(Setup {
            staff: vec![
                ("agent@acme.test".into(), "agent".into()),
                ("admin@acme.test".into(), "admin".into()),
                ("victim@acme.test".into(), "agent".into()),
            ],
            tenants: vec!["other@beta.test".into(), "c@gamma.test".into()],
            superadmin: Some(("root@ops.test".into(), "operator pass 1".into())),
            ..Default::default()
        });
        let owner = srv.pair(OWNER, PASSWORD).await;
        let victim = srv.pair("victim@acme.test", PASSWORD).await;
        let (mut v, welcome) = srv.visitor(None).await;
        v.send(json!({"type":"send","client_id":"c1","body":"hello"}))
            .await;
        let ack = v.until_type("ack").await;
        let token = owner["access_token"].as_str().unwrap();
        let canned = srv
            .call(
                "POST",
                "/api/v1/canned-responses",
                Some(token),
                Some(json!({"shortcut": "fixture", "body": "Hi there"})),
            )
            .await;
        assert_eq!(canned.status, 201, "{}", canned.body);
        let reset = srv
            .call(
                "POST",
                "/api/v1/auth/password-reset",
                None,
                Some(json!({"email": "victim@acme.test"})),
            )
            .await;
        assert_eq!(reset.status, 202);
        let outbox = srv.call("GET", "/api/v1/outbox", Some(token), None).await;
        let mail = outbox.body["items"][0]["id"].as_str().unwrap().to_string();
        let form = json!({"name": "Vic", "email": "vic@v.test", "message": "hello", "website": ""});
        let posted = srv
            .call(
                "POST",
                &format!("/api/v1/public/{}/contact", srv.site_key()),
                None,
                Some(form),
            )
            .await;
        assert_eq!(posted.status, 201, "{}", posted.body);
        let site = srv.tenant["site_id"].as_str().unwrap().to_string();
        srv.open_bookings(token, &site, json!({})).await;
        let slot = srv.slots(srv.site_key()).await[0].clone();
        let booked = srv
            .call(
                "POST",
                &format!("/api/v1/public/{}/consultations", srv.site_key()),
                None,
                Some(json!({"name": "Vic", "email": "vic@v.test", "start": slot["start"]})),
            )
            .await;
        assert_eq!(booked.status, 201, "{}", booked.body);
        let campaign = srv
            .call(
                "POST",
                "/api/v1/newsletter/campaigns",
                Some(token),
                Some(json!({"subject": "Fixture news", "body": "Hi"})),
            )
            .await;
        assert_eq!(campaign.status, 201, "{}", campaign.body);
        let webhook = srv
            .call(
                "POST",
                "/api/v1/webhooks",
                Some(token),
                Some(json!({"url": "https://hooks.example.com/fixture", "events": ["message.created"]})),
            )
            .await;
        assert_eq!(webhook.status, 201, "{}", webhook.body);
        Self {
            mail,
            campaign: campaign.body["id"].as_str().unwrap().to_string(),
            webhook: webhook.body["id"].as_str().unwrap().to_string(),
            booking: booked.body["id"].as_str().unwrap().to_string(),
            contact: posted.body["id"].as_str().unwrap().to_string(),
            conversation: ack["conversation_id"].as_str().unwrap().into(),
            visitor: welcome["visitor_id"].as_str().unwrap().into(),
            canned: canned.body["id"].as_str().unwrap().into(),
            owner_id: owner["staff_id"].as_str().unwrap().into(),
            tenant_id: owner["tenant_id"].as_str().unwrap().into(),
            victim: victim["staff_id"].as_str().unwrap().into(),
            site: srv.tenant["site_id"].as_str().unwrap().into(),
            tenant_c: srv.others[1]["tenant_id"].as_str().unwrap().into(),
            srv,
            counter: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    async fn owner_token(&self) -> String {
        self.srv.pair(OWNER, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .into()
    }

    /// A fresh token for principal `who` (`None` for no token).
    async fn token(&self, who: &str) -> Option<String> {
        let login = |email: &'static str| async move {
            self.srv.pair(email, PASSWORD).await["access_token"]
                .as_str()
                .map(str::to_string)
        };
        match who {
            "none" => None,
            "expired" => Some(staff_token(
                TOKEN_SECRET,
                &self.owner_id,
                &self.tenant_id,
                -60,
            )),
            "forged" => Some(staff_token(
                "another-secret-0123456789abcdef0123",
                &self.owner_id,
                &self.tenant_id,
                600,
            )),
            "agent" => login("agent@acme.test").await,
            "admin" => login("admin@acme.test").await,
            "owner" => login(OWNER).await,
            "other" => login("other@beta.test").await,
            "operator" => {
                let r = self
                    .srv
                    .call(
                        "POST",
                        "/api/v1/admin/auth/login",
                        None,
                        Some(json!({"email":"root@ops.test","password":"operator pass 1"})),
                    )
                    .await;
                r.body["access_token"].as_str().map(str::to_string)
            }
            _ => unreachable!(),
        }
    }

    /// The row's path with its parameter filled for one principal.
    async fn path(&self, row: &Row) -> String {
        let id = match row.fix {
            Fix::None => return row.path.into(),
            Fix::Staff => self.victim.clone(),
            Fix::Site => self.site.clone(),
            Fix::TenantC => self.tenant_c.clone(),
            Fix::SiteKey => self.srv.site_key().into(),
            Fix::SiteQuery => return format!("{}?site={}", row.path, self.srv.site_key()),
            Fix::Asset => "panel.js".into(),
            Fix::Conversation => self.conversation.clone(),
            Fix::Visitor => self.visitor.clone(),
            Fix::Canned => self.canned.clone(),
            Fix::Mail => self.mail.clone(),
            Fix::Contact => self.contact.clone(),
            Fix::Booking => self.booking.clone(),
            Fix::Campaign => self.campaign.clone(),
            Fix::Webhook => self.webhook.clone(),
            Fix::FreshCampaign => {
                let t = self.owner_token().await;
                let body = json!({"subject": "Fresh", "body": "Hi"});
                let r = self
                    .srv
                    .call("POST", "/api/v1/newsletter/campaigns", Some(&t), Some(body))
                    .await;
                r.body["id"].as_str().unwrap().into()
            }
            Fix::FreshWebhook => {
                let t = self.owner_token().await;
                let body =
                    json!({"url": "https://hooks.example.com/f", "events": ["message.created"]});
                let r = self
                    .srv
                    .call("POST", "/api/v1/webhooks", Some(&t), Some(body))
                    .await;
                r.body["id"].as_str().unwrap().into()
            }
            Fix::FreshVisitor => {
                let (_ws, welcome) = self.srv.visitor(None).await;
                let id = welcome["visitor_id"].as_str().unwrap().to_string();
                let t = self.owner_token().await;
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while self
                    .srv
                    .call("GET", &format!("/api/v1/visitors/{id}"), Some(&t), None)
                    .await
                    .status
                    != 200
                {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "visitor {id} never stored"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                id
            }
            Fix::FreshCanned => {
                let n = self.next();
                let t = self.owner_token().await;
                let body = json!({"shortcut": format!("fresh{n}"), "body": "Bye"});
                let r = self
                    .srv
                    .call("POST", "/api/v1/canned-responses", Some(&t), Some(body))
                    .await;
                r.body["id"].as_str().unwrap().into()
            }
            Fix::FreshStaff => {
                let n = self.next();
                let body = json!({"name":"F","email":format!("f{n}@acme.test"),"role":"agent","password":"correct horse 9"});
                let t = self.owner_token().await;
                let r = self
                    .srv
                    .call("POST", "/api/v1/staff", Some(&t), Some(body))
                    .await;
                r.body["id"].as_str().unwrap().into()
            }
            Fix::FreshSite => {
                let t = self.owner_token().await;
                let r = self
                    .srv
                    .call("POST", "/api/v1/sites", Some(&t), Some(json!({"name":"F"})))
                    .await;
                r.body["id"].as_str().unwrap().into()
            }
            Fix::OwnerSession => self.srv.pair(OWNER, PASSWORD).await["session_id"]
                .as_str()
                .unwrap()
                .into(),
        };
        let at = row.path.find('{').unwrap();
        let end = row.path[at..].find('}').unwrap() + at + 1;
        format!("{}{id}{}", &row.path[..at], &row.path[end..])
    }
}

#[tokio::test]
async fn every_route_answers_every_principal_as_it_must() {
    let w = World::start().await;
    let mut failures = Vec::new();
    for row in rows() {
        for (i, who) in WHO.iter().enumerate() {
            let token = w.token(who).await;
            let path = w.path(&row).await;
            let r = w
                .srv
                .call(row.method, &path, token.as_deref(), (row.body)(w.next()))
                .await;
            if r.status != row.want[i] {
                failures.push(format!(
                    "{} {} as {who}: {} (want {}) {}",
                    row.method, row.path, r.status, row.want[i], r.body
                ));
            }
            if r.status >= 400 && !r.body["error"]["code"].is_string() {
                failures.push(format!(
                    "{} {} as {who}: {} without the contract's error body: {}",
                    row.method, row.path, r.status, r.body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing of tenant A leaked into the other owner's lists.
    let other = w.token("other").await.unwrap();
    for list in [
        "/api/v1/staff",
        "/api/v1/sites",
        "/api/v1/audit",
        "/api/v1/conversations",
        "/api/v1/visitors",
        "/api/v1/canned-responses",
        "/api/v1/consultations",
        "/api/v1/contact-messages",
        "/api/v1/newsletter?status=all",
        "/api/v1/newsletter/campaigns",
        "/api/v1/webhooks",
    ] {
        let r = w.srv.call("GET", list, Some(&other), None).await;
        let text = r.body.to_string();
        assert!(
            !text.contains(&w.victim)
                && !text.contains(&w.site)
                && !text.contains(OWNER)
                && !text.contains(&w.conversation)
                && !text.contains(&w.visitor)
                && !text.contains("fixture"),
            "{list}: {text}"
        );
    }
    // ... while tenant A's own staff do see them.
    let agent = w.token("agent").await.unwrap();
    let r = w
        .srv
        .call("GET", "/api/v1/conversations", Some(&agent), None)
        .await;
    assert!(r.body.to_string().contains(&w.conversation), "{}", r.body);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let srv = Server::start();
    let r = srv.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in r.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let tested: BTreeSet<String> = rows()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        documented, tested,
        "documented routes and the isolation table differ"
    );
    // And every documented route is really served: none of them falls
    // through to the router's "no such route".
    for route in &documented {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path
            .replace("{id}", "01M80000000000000000000000")
            .replace("{site_key}", "pk_x")
            .replace("{file}", "panel.js");
        let r = srv.call(method, &path, None, None).await;
        assert!(
            !(r.status == 404 && r.body["error"]["message"] == "no such route") && r.status != 405,
            "{route} is documented but not served: {} {}",
            r.status,
            r.body
        );
    }
    let r = srv.call("GET", "/api/v1/not-a-route", None, None).await;
    assert_eq!(r.body["error"]["message"], "no such route");
}
