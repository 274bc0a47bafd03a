//! The route table of `isolation.rs`: every route, what fills its path
//! parameter, its body, and the status each principal must get.

use super::common::{OWNER, PASSWORD};
use serde_json::{json, Value};

pub(super) const WHO: [&str; 8] = [
    "none", "expired", "forged", "agent", "admin", "owner", "other", "operator",
];

/// What a row's `{…}` path parameter is filled with.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Fix {
    None,
    /// A long-lived agent of tenant A.
    Staff,
    /// A fresh agent of tenant A, for each principal (deleted by some).
    FreshStaff,
    /// Tenant A's first site.
    Site,
    /// A fresh site of tenant A, for each principal.
    FreshSite,
    /// A fresh extra session of A's owner.
    OwnerSession,
    /// Tenant C (only the operator touches it).
    TenantC,
    /// A's public site key.
    SiteKey,
    /// `?site=` A's public site key, appended.
    SiteQuery,
    /// A widget asset's file name.
    Asset,
    /// A conversation of tenant A.
    Conversation,
    /// A visitor of tenant A.
    Visitor,
    /// A long-lived canned response of tenant A.
    Canned,
    /// A fresh canned response of tenant A, for each principal.
    FreshCanned,
    /// A mail in tenant A's outbox (pending: no SMTP server here).
    Mail,
    /// A contact-form message of tenant A.
    Contact,
    /// A consultation booked on tenant A's site.
    Booking,
    /// A draft campaign of tenant A.
    Campaign,
    /// A fresh draft campaign of tenant A, for each principal.
    FreshCampaign,
    /// A long-lived webhook endpoint of tenant A.
    Webhook,
    /// A fresh webhook endpoint of tenant A, for each principal.
    FreshWebhook,
    /// A fresh visitor of tenant A (stored), for each principal.
    FreshVisitor,
}

pub(super) struct Row {
    pub(super) method: &'static str,
    pub(super) path: &'static str,
    pub(super) fix: Fix,
    pub(super) body: fn(usize) -> Option<Value>,
    pub(super) want: [u16; 8],
}

const ANY: fn(usize) -> Option<Value> = |_| None;
const STAFF_OK: [u16; 8] = [401, 401, 401, 200, 200, 200, 200, 401];
/// A tenant-A resource any of its staff may read: others get 404.
const MINE: [u16; 8] = [401, 401, 401, 200, 200, 200, 404, 401];
/// Owners and admins of any tenant (their own data), nobody else.
const MANAGERS: [u16; 8] = [401, 401, 401, 403, 200, 200, 200, 401];
/// A tenant-A resource only its owners and admins may touch.
const MANAGERS_MINE: [u16; 8] = [401, 401, 401, 403, 200, 200, 404, 401];
const OP_ONLY: [u16; 8] = [401, 401, 401, 401, 401, 401, 401, 200];

fn all(s: u16) -> [u16; 8] {
    [s; 8]
}

pub(super) fn rows() -> Vec<Row> {
    let r = |method, path, fix, body, want| Row {
        method,
        path,
        fix,
        body,
        want,
    };
    vec![
        r("GET", "/", Fix::None, ANY, all(200)),
        r("GET", "/app/", Fix::None, ANY, all(200)),
        // A redirect to `/app/` (the client follows it).
        r("GET", "/app", Fix::None, ANY, all(200)),
        r("GET", "/admin/", Fix::None, ANY, all(200)),
        r("GET", "/admin", Fix::None, ANY, all(200)),
        r("GET", "/assets/{file}", Fix::Asset, ANY, all(200)),
        r("GET", "/favicon.ico", Fix::None, ANY, all(200)),
        r("GET", "/widget.js", Fix::None, ANY, all(200)),
        r("GET", "/widget/frame", Fix::SiteQuery, ANY, all(200)),
        r("GET", "/widget/assets/{file}", Fix::Asset, ANY, all(200)),
        r("GET", "/demo", Fix::None, ANY, all(200)),
        r("GET", "/s/{site_key}", Fix::SiteKey, ANY, all(200)),
        r("GET", "/healthz", Fix::None, ANY, all(200)),
        r("GET", "/metrics", Fix::None, ANY, all(200)),
        r("GET", "/api/v1/openapi.json", Fix::None, ANY, all(200)),
        r("GET", "/ws/visitor", Fix::None, ANY, all(400)),
        r("GET", "/ws/staff", Fix::None, ANY, all(400)),
        r(
            "POST",
            "/api/v1/auth/register",
            Fix::None,
            |n| {
                Some(
                    json!({"tenant_name":"New","name":"N","email":format!("new{n}@new.test"),"password":"correct horse 9"}),
                )
            },
            all(201),
        ),
        r(
            "POST",
            "/api/v1/auth/login",
            Fix::None,
            |_| Some(json!({"email": OWNER, "password": PASSWORD})),
            all(200),
        ),
        r(
            "POST",
            "/api/v1/auth/refresh",
            Fix::None,
            |_| Some(json!({"refresh_token": "rt1.bogus"})),
            all(401),
        ),
        r(
            "POST",
            "/api/v1/auth/logout",
            Fix::None,
            |_| Some(json!({"refresh_token": "rt1.bogus"})),
            all(204),
        ),
        r(
            "POST",
            "/api/v1/auth/logout-all",
            Fix::None,
            ANY,
            [401, 401, 401, 204, 204, 204, 204, 401],
        ),
        r(
            "POST",
            "/api/v1/auth/password-reset",
            Fix::None,
            |_| Some(json!({"email": "nobody@nowhere.test"})),
            all(202),
        ),
        r(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            Fix::None,
            |_| Some(json!({"token": "bogus", "password": "correct horse 9"})),
            all(401),
        ),
        r(
            "POST",
            "/api/v1/auth/invitation/accept",
            Fix::None,
            |_| Some(json!({"token": "bogus", "password": "correct horse 9"})),
            all(401),
        ),
        r(
            "POST",
            "/api/v1/auth/register/confirm",
            Fix::None,
            |_| Some(json!({"token": "bogus"})),
            all(401),
        ),
        r(
            "POST",
            "/api/v1/auth/link",
            Fix::None,
            |_| Some(json!({"token": "bogus"})),
            all(401),
        ),
        r("GET", "/api/v1/me", Fix::None, ANY, STAFF_OK),
        r(
            "PATCH",
            "/api/v1/me",
            Fix::None,
            |_| Some(json!({"name": "Renamed"})),
            STAFF_OK,
        ),
        r(
            "POST",
            "/api/v1/me/password",
            Fix::None,
            |_| Some(json!({"current_password": PASSWORD, "new_password": PASSWORD})),
            STAFF_OK,
        ),
        r("GET", "/api/v1/sessions", Fix::None, ANY, STAFF_OK),
        r(
            "DELETE",
            "/api/v1/sessions/{id}",
            Fix::OwnerSession,
            ANY,
            [401, 401, 401, 404, 404, 204, 404, 401],
        ),
        r("GET", "/api/v1/staff", Fix::None, ANY, STAFF_OK),
        r(
            "POST",
            "/api/v1/staff",
            Fix::None,
            |n| {
                Some(
                    json!({"name":"S","email":format!("s{n}@acme.test"),"role":"agent","password":"correct horse 9"}),
                )
            },
            [401, 401, 401, 403, 201, 201, 201, 401],
        ),
        r(
            "GET",
            "/api/v1/staff/{id}",
            Fix::Staff,
            ANY,
            [401, 401, 401, 200, 200, 200, 404, 401],
        ),
        r(
            "PATCH",
            "/api/v1/staff/{id}",
            Fix::Staff,
            |_| Some(json!({"name": "Vic"})),
            [401, 401, 401, 403, 200, 200, 404, 401],
        ),
        // A fresh invitation or reset link for a member (owners and admins).
        r(
            "POST",
            "/api/v1/staff/{id}/link",
            Fix::Staff,
            ANY,
            [401, 401, 401, 403, 200, 200, 404, 401],
        ),
        r(
            "DELETE",
            "/api/v1/staff/{id}",
            Fix::FreshStaff,
            ANY,
            [401, 401, 401, 403, 204, 204, 404, 401],
        ),
        r("GET", "/api/v1/sites", Fix::None, ANY, STAFF_OK),
        r(
            "POST",
            "/api/v1/sites",
            Fix::None,
            |_| Some(json!({"name": "Blog"})),
            [401, 401, 401, 403, 201, 201, 201, 401],
        ),
        r(
            "GET",
            "/api/v1/sites/{id}",
            Fix::Site,
            ANY,
            [401, 401, 401, 200, 200, 200, 404, 401],
        ),
        r(
            "PATCH",
            "/api/v1/sites/{id}",
            Fix::Site,
            |_| Some(json!({"greeting": "Yo"})),
            [401, 401, 401, 403, 200, 200, 404, 401],
        ),
        r(
            "DELETE",
            "/api/v1/sites/{id}",
            Fix::FreshSite,
            ANY,
            [401, 401, 401, 403, 204, 204, 404, 401],
        ),
        r(
            "POST",
            "/api/v1/sites/{id}/rotate-key",
            Fix::FreshSite,
            ANY,
            [401, 401, 401, 403, 200, 200, 404, 401],
        ),
        r("GET", "/api/v1/tenant", Fix::None, ANY, STAFF_OK),
        r(
            "PATCH",
            "/api/v1/tenant",
            Fix::None,
            |_| Some(json!({"name": "Acme"})),
            [401, 401, 401, 403, 403, 200, 200, 401],
        ),
        r(
            "GET",
            "/api/v1/audit",
            Fix::None,
            ANY,
            [401, 401, 401, 403, 200, 200, 200, 401],
        ),
        r(
            "GET",
            "/api/v1/outbox",
            Fix::None,
            ANY,
            [401, 401, 401, 403, 200, 200, 200, 401],
        ),
        r(
            "GET",
            "/api/v1/outbox/{id}",
            Fix::Mail,
            ANY,
            [401, 401, 401, 403, 200, 200, 404, 401],
        ),
        // Only failed mail is retried (this one is pending: 409).
        r(
            "POST",
            "/api/v1/outbox/{id}/retry",
            Fix::Mail,
            ANY,
            [401, 401, 401, 403, 409, 409, 404, 401],
        ),
        r(
            "POST",
            "/api/v1/public/{site_key}/contact",
            Fix::SiteKey,
            |_| Some(json!({"email": "v@mail.test", "message": "hello"})),
            all(201),
        ),
        r(
            "POST",
            "/api/v1/public/{site_key}/transcript",
            Fix::SiteKey,
            |_| Some(json!({"visitor_token": "bogus", "email": "v@mail.test"})),
            all(404),
        ),
        r(
            "POST",
            "/api/v1/public/{site_key}/history",
            Fix::SiteKey,
            |_| Some(json!({"visitor_token": "bogus"})),
            all(404),
        ),
        r("GET", "/api/v1/contact-messages", Fix::None, ANY, STAFF_OK),
        r(
            "GET",
            "/api/v1/contact-messages/{id}",
            Fix::Contact,
            ANY,
            MINE,
        ),
        r(
            "PATCH",
            "/api/v1/contact-messages/{id}",
            Fix::Contact,
            |_| Some(json!({"status": "read"})),
            MINE,
        ),
        r(
            "POST",
            "/api/v1/contact-messages/{id}/notes",
            Fix::Contact,
            |_| Some(json!({"body": "a note"})),
            [401, 401, 401, 201, 201, 201, 404, 401],
        ),
        r(
            "POST",
            "/api/v1/contact-messages/{id}/replies",
            Fix::Contact,
            |_| Some(json!({"body": "a reply"})),
            [401, 401, 401, 201, 201, 201, 404, 401],
        ),
        r(
            "GET",
            "/api/v1/contact-messages/export.csv",
            Fix::None,
            ANY,
            [401, 401, 401, 403, 200, 200, 200, 401],
        ),
        r(
            "GET",
            "/api/v1/public/{site_key}/consultations/slots",
            Fix::SiteKey,
            ANY,
            all(200),
        ),
        // A start that is no time at all: 400 for anyone.
        r(
            "POST",
            "/api/v1/public/{site_key}/consultations",
            Fix::SiteKey,
            |_| Some(json!({"name": "V", "email": "v@mail.test", "start": "soon"})),
            all(400),
        ),
        r("GET", "/api/v1/consultations", Fix::None, ANY, STAFF_OK),
        r("GET", "/api/v1/consultations/{id}", Fix::Booking, ANY, MINE),
        r(
            "PATCH",
            "/api/v1/consultations/{id}",
            Fix::Booking,
            |_| Some(json!({"notes": "call first"})),
            MINE,
        ),
        // Any token shows the page; the page asks the API, which refuses a bogus one.
        r("GET", "/l/{token}", Fix::Asset, ANY, all(200)),
        r(
            "GET",
            "/api/v1/public/links/{token}",
            Fix::Asset,
            ANY,
            all(401),
        ),
        r(
            "POST",
            "/api/v1/public/links/{token}",
            Fix::Asset,
            |_| Some(json!({"action": "cancel"})),
            all(401),
        ),
        r(
            "POST",
            "/api/v1/public/{site_key}/newsletter",
            Fix::SiteKey,
            |n| Some(json!({"email": format!("n{n}@mail.test")})),
            all(202),
        ),
        r("GET", "/api/v1/newsletter", Fix::None, ANY, MANAGERS),
        r("GET", "/api/v1/analytics", Fix::None, ANY, MANAGERS),
        r("GET", "/api/v1/analytics/staff", Fix::None, ANY, MANAGERS),
        r(
            "GET",
            "/api/v1/analytics/export.csv",
            Fix::None,
            ANY,
            MANAGERS,
        ),
        r(
            "GET",
            "/api/v1/newsletter/export.csv",
            Fix::None,
            ANY,
            MANAGERS,
        ),
        r(
            "GET",
            "/api/v1/newsletter/campaigns",
            Fix::None,
            ANY,
            MANAGERS,
        ),
        r(
            "POST",
            "/api/v1/newsletter/campaigns",
            Fix::None,
            |_| Some(json!({"subject": "News", "body": "Hello"})),
            [401, 401, 401, 403, 201, 201, 201, 401],
        ),
        r(
            "GET",
            "/api/v1/newsletter/campaigns/{id}",
            Fix::Campaign,
            ANY,
            MANAGERS_MINE,
        ),
        r(
            "PATCH",
            "/api/v1/newsletter/campaigns/{id}",
            Fix::Campaign,
            |_| Some(json!({"subject": "News", "body": "Hello again"})),
            MANAGERS_MINE,
        ),
        r(
            "POST",
            "/api/v1/newsletter/campaigns/{id}/send",
            Fix::FreshCampaign,
            ANY,
            [401, 401, 401, 403, 202, 202, 404, 401],
        ),
        r("GET", "/api/v1/webhooks", Fix::None, ANY, MANAGERS),
        r(
            "POST",
            "/api/v1/webhooks",
            Fix::None,
            |_| Some(json!({"url": "https://hooks.example.com/x", "events": ["message.created"]})),
            [401, 401, 401, 403, 201, 201, 201, 401],
        ),
        r(
            "DELETE",
            "/api/v1/webhooks/{id}",
            Fix::FreshWebhook,
            ANY,
            [401, 401, 401, 403, 204, 204, 404, 401],
        ),
        r(
            "POST",
            "/api/v1/webhooks/{id}/rotate-secret",
            Fix::Webhook,
            ANY,
            MANAGERS_MINE,
        ),
        r(
            "GET",
            "/api/v1/webhooks/{id}/deliveries",
            Fix::Webhook,
            ANY,
            MANAGERS_MINE,
        ),
        r("POST", "/l/{token}", Fix::Asset, ANY, all(401)),
        r("GET", "/api/v1/notifications", Fix::None, ANY, STAFF_OK),
        r(
            "POST",
            "/api/v1/notifications/read",
            Fix::None,
            |_| Some(json!({})),
            STAFF_OK,
        ),
        r("GET", "/api/v1/conversations", Fix::None, ANY, STAFF_OK),
        r(
            "GET",
            "/api/v1/conversations/{id}",
            Fix::Conversation,
            ANY,
            MINE,
        ),
        r(
            "GET",
            "/api/v1/conversations/{id}/messages",
            Fix::Conversation,
            ANY,
            MINE,
        ),
        r("GET", "/api/v1/visitors", Fix::None, ANY, STAFF_OK),
        r("GET", "/api/v1/visitors/{id}", Fix::Visitor, ANY, MINE),
        r("GET", "/api/v1/canned-responses", Fix::None, ANY, STAFF_OK),
        r(
            "POST",
            "/api/v1/canned-responses",
            Fix::None,
            |n| Some(json!({"shortcut": format!("s{n}"), "body": "Hello"})),
            [401, 401, 401, 201, 201, 201, 201, 401],
        ),
        r(
            "PATCH",
            "/api/v1/canned-responses/{id}",
            Fix::Canned,
            |_| Some(json!({"body": "Hello again"})),
            MINE,
        ),
        r(
            "GET",
            "/api/v1/visitors/{id}/export",
            Fix::Visitor,
            ANY,
            MANAGERS_MINE,
        ),
        r(
            "DELETE",
            "/api/v1/visitors/{id}",
            Fix::FreshVisitor,
            ANY,
            MANAGERS_MINE,
        ),
        r(
            "DELETE",
            "/api/v1/canned-responses/{id}",
            Fix::FreshCanned,
            ANY,
            [401, 401, 401, 204, 204, 204, 404, 401],
        ),
        r(
            "GET",
            "/api/v1/public/{site_key}/config",
            Fix::SiteKey,
            ANY,
            all(200),
        ),
        r(
            "POST",
            "/api/v1/admin/auth/login",
            Fix::None,
            |_| Some(json!({"email": "root@ops.test", "password": "operator pass 1"})),
            all(200),
        ),
        r("GET", "/api/v1/admin/tenants", Fix::None, ANY, OP_ONLY),
        r("GET", "/api/v1/admin/stats", Fix::None, ANY, OP_ONLY),
        r(
            "POST",
            "/api/v1/admin/backups",
            Fix::None,
            ANY,
            [401, 401, 401, 401, 401, 401, 401, 201],
        ),
        r(
            "PATCH",
            "/api/v1/admin/tenants/{id}",
            Fix::TenantC,
            |_| Some(json!({"plan": "pro"})),
            OP_ONLY,
        ),
        r("GET", "/api/v1/plans", Fix::None, ANY, all(200)),
        // No checkout page configured here: owners get 503, others 403/401.
        r(
            "POST",
            "/api/v1/billing/checkout",
            Fix::None,
            |_| Some(json!({"plan": "pro"})),
            [401, 401, 401, 403, 403, 503, 503, 401],
        ),
        // No webhook secret configured: 503 for anyone.
        r(
            "POST",
            "/api/v1/billing/webhook",
            Fix::None,
            |_| Some(json!({})),
            all(503),
        ),
        r(
            "POST",
            "/api/v1/admin/tenants/{id}/suspend",
            Fix::TenantC,
            ANY,
            OP_ONLY,
        ),
        r(
            "POST",
            "/api/v1/admin/tenants/{id}/resume",
            Fix::TenantC,
            ANY,
            OP_ONLY,
        ),
    ]
}
