//! Webhooks out: a tenant's endpoints, the events they take, deliveries
//! with their attempts, and Standard Webhooks signing
//! (`v1,BASE64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))`, the key being
//! the base64 after `whsec_`).

use crate::codes::error;
use crate::mail::RetryPolicy;
use crate::validate::Invalid;
use crate::{DeliveryId, TenantId, Timestamp, WebhookId};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The events an endpoint may take.
pub const EVENTS: [&str; 6] = [
    "conversation.created",
    "conversation.closed",
    "message.created",
    "contact_message.created",
    "consultation.booked",
    "subscriber.confirmed",
];

/// Whether a webhook may call `ip`: not loopback, private, link-local,
/// shared (CGNAT), unspecified, multicast, broadcast or documentation
/// space, in v4, v6 or v4-mapped form.
pub fn ip_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (18..20).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return ip_allowed(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Checks an endpoint URL: `http(s)://host…`, at most 2,000 characters;
/// unless `allow_private`, not `localhost` nor an internal address.
pub fn endpoint_url(url: &str, allow_private: bool) -> Result<String, Invalid> {
    let u = url.trim();
    let bad = |why: &str| Invalid {
        code: error::INVALID,
        message: format!("url {why}"),
    };
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    if u.len() > 2000 || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must be at most 2,000 characters with no spaces"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(bad("names no host"));
    }
    if !allow_private {
        let lower = host.to_ascii_lowercase();
        let internal_name = lower == "localhost" || lower.ends_with(".localhost");
        let internal_ip = host.parse::<IpAddr>().is_ok_and(|ip| !ip_allowed(ip));
        if internal_name || internal_ip {
            return Err(bad(
                "points at a loopback or private address (this instance refuses those)",
            ));
        }
    }
    Ok(u.to_string())
}

/// A tenant's endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    pub events: Vec<String>,
    /// `whsec_…`.
    pub secret: String,
    /// The secret before the last rotation, still signed with until then.
    pub previous: Option<(String, Timestamp)>,
    pub created_at: Timestamp,
}

impl WebhookEndpoint {
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    /// The secrets deliveries are signed with at `now`: the current one,
    /// and the previous one during its overlap window.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&str> {
        let mut v = vec![self.secret.as_str()];
        if let Some((old, until)) = &self.previous {
            if now < *until {
                v.push(old.as_str());
            }
        }
        v
    }
}

/// A `whsec_` secret from 24 random bytes.
pub fn new_secret(random: [u8; 24]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random)
    )
}

/// The `webhook-signature` header value for one message: one `v1,…` per
/// secret, space-separated.
pub fn signature(secrets: &[&str], id: &str, timestamp: u64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|s| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(s.strip_prefix("whsec_").unwrap_or(s))
                .ok()?;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One attempt: the answer's status (none when no answer) and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: Timestamp,
    pub status: Option<u16>,
    pub ms: u32,
    pub error: String,
}

/// One event for one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The `webhook-id`, the same on every attempt.
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
    pub event: String,
    /// The JSON body, exactly as sent.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<DeliveryAttempt>,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
}

impl DeliveryRecord {
    /// Records an attempt: delivered on a 2xx, else pending with the next
    /// attempt after the backoff, or failed after the last.
    pub fn record(&mut self, a: DeliveryAttempt, policy: &RetryPolicy, jitter: f64) {
        let ok = a.status.is_some_and(|s| (200..300).contains(&s));
        let now = a.at;
        self.attempts.push(a);
        if ok {
            self.status = DeliveryStatus::Delivered;
            return;
        }
        let failures = self.attempts.len() as u32;
        if failures >= policy.max_attempts.max(1) {
            self.status = DeliveryStatus::Failed;
        } else {
            self.next_attempt_at = now.after(policy.delay(failures, jitter));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let both = signature(
            &[secret, secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert_eq!(both, format!("{sig} {sig}"));
    }

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        for ok in [
            "https://hooks.example.com/x",
            "http://93.184.216.34:8080/h",
            "https://[2606:4700::1]/",
        ] {
            assert!(endpoint_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:9/h",
            "http://localhost/h",
            "http://10.1.2.3/",
            "http://192.168.1.1",
            "http://169.254.169.254/latest",
            "http://[::1]:80/",
            "http://[::ffff:127.0.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ] {
            assert!(endpoint_url(bad, false).is_err(), "{bad}");
            assert!(endpoint_url(bad, true).is_ok(), "{bad}");
        }
        for bad in [
            "ftp://x.test",
            "https://",
            "https://a b.test/",
            "javascript:alert(1)",
        ] {
            assert!(endpoint_url(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn deliveries_retry_then_give_up() {
        let p = RetryPolicy {
            max_attempts: 2,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        let mut d = DeliveryRecord {
            id: DeliveryId::new(),
            tenant_id: TenantId::new(),
            webhook_id: WebhookId::new(),
            event: "message.created".into(),
            body: "{}".into(),
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            next_attempt_at: Timestamp(0),
            created_at: Timestamp(0),
        };
        let at = |s| DeliveryAttempt {
            at: Timestamp(1000),
            status: s,
            ms: 3,
            error: String::new(),
        };
        d.record(at(Some(500)), &p, 0.5);
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.next_attempt_at, Timestamp(2000));
        d.record(at(None), &p, 0.5);
        assert_eq!(d.status, DeliveryStatus::Failed);
        let mut ok = d.clone();
        ok.status = DeliveryStatus::Pending;
        ok.attempts.clear();
        ok.record(at(Some(204)), &p, 0.5);
        assert_eq!(ok.status, DeliveryStatus::Delivered);
    }

    #[test]
    fn the_previous_secret_signs_until_its_window_ends() {
        let e = WebhookEndpoint {
            id: WebhookId::new(),
            tenant_id: TenantId::new(),
            url: "https://x.test/h".into(),
            events: vec!["message.created".into()],
            secret: "whsec_bmV3".into(),
            previous: Some(("whsec_b2xk".into(), Timestamp(5000))),
            created_at: Timestamp(0),
        };
        assert_eq!(e.signing_secrets(Timestamp(4999)).len(), 2);
        assert_eq!(e.signing_secrets(Timestamp(5000)), ["whsec_bmV3"]);
        assert!(e.wants("message.created") && !e.wants("conversation.closed"));
    }
}
