//! Device cookies (OWASP's "Slow brute force protection using device
//! cookies"): a browser that signs in to an account gets a signed cookie
//! naming that account and a random device id. Its later sign-ins are
//! counted under the device alone, so failures an attacker piles onto the
//! account from elsewhere never delay the owner (`api::lockout`).
//!
//! One cookie per account a browser knows (`parley_device_<account tag>`),
//! `HttpOnly`, `SameSite=Strict`, scoped to `/api/v1/`, `Secure` when the
//! instance's public URL is https. The value is
//! `base64url(device id ‖ expiry) . base64url(HMAC-SHA256(account ‖ both))`,
//! keyed by a key derived from the instance secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Signs and checks device cookies.
pub struct DeviceCookies {
    key: [u8; 32],
    days: u32,
    secure: bool,
}

impl DeviceCookies {
    /// From the instance secret; cookies live `days`; `secure` adds the
    /// `Secure` attribute.
    pub fn new(secret: &[u8], days: u32, secure: bool) -> Self {
        let mut h = Sha256::new();
        h.update(b"parley device cookie\0");
        h.update(secret);
        Self {
            key: h.finalize().into(),
            days,
            secure,
        }
    }

    /// The cookie's name for `account` (lowercased email): a short tag of it,
    /// so a browser keeps one per account and the name reveals nothing.
    pub fn name(&self, account: &str) -> String {
        let tag = Sha256::digest(account.as_bytes());
        format!("parley_device_{}", B64.encode(&tag[..9]))
    }

    fn mac(&self, account: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(account.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }

    /// A `Set-Cookie` value for a new device that just signed in to
    /// `account`, or a renewal of `device`.
    pub fn set_cookie(&self, account: &str, device: Option<u128>, now_secs: u64) -> String {
        let id = device.unwrap_or_else(|| {
            let mut b = [0u8; 16];
            rand::rng().fill_bytes(&mut b);
            u128::from_be_bytes(b)
        });
        let max_age = u64::from(self.days) * 86_400;
        let mut payload = id.to_be_bytes().to_vec();
        payload.extend_from_slice(&(now_secs + max_age).to_be_bytes());
        let sig = self.mac(account, &payload).finalize().into_bytes();
        format!(
            "{}={}.{}; Path=/api/v1/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            self.name(account),
            B64.encode(&payload),
            B64.encode(sig),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The device id in `value` when it is a genuine, unexpired cookie for
    /// `account`.
    pub fn verify(&self, account: &str, value: &str, now_secs: u64) -> Option<u128> {
        let (payload, sig) = value.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        let sig = B64.decode(sig).ok()?;
        if payload.len() != 24 {
            return None;
        }
        self.mac(account, &payload).verify_slice(&sig).ok()?;
        let expires = u64::from_be_bytes(payload[16..].try_into().ok()?);
        (expires > now_secs)
            .then(|| u128::from_be_bytes(payload[..16].try_into().unwrap_or_default()))
    }

    /// The device id from a request's `Cookie` headers, for `account`.
    pub fn from_headers(
        &self,
        headers: &axum::http::HeaderMap,
        account: &str,
        now_secs: u64,
    ) -> Option<u128> {
        let name = self.name(account);
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .find_map(|(_, v)| self.verify(account, v, now_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(set_cookie: &str) -> &str {
        set_cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
    }

    #[test]
    fn a_cookie_is_good_for_its_account_until_it_expires() {
        let d = DeviceCookies::new(b"secret", 1, false);
        let c = d.set_cookie("a@x.test", None, 1000);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        let id = d.verify("a@x.test", value(&c), 1000).unwrap();
        assert!(d.verify("b@x.test", value(&c), 1000).is_none());
        assert!(d.verify("a@x.test", value(&c), 1000 + 86_400).is_none());
        // Renewing keeps the device.
        let again = d.set_cookie("a@x.test", Some(id), 2000);
        assert_eq!(d.verify("a@x.test", value(&again), 2000), Some(id));
        // Another instance's secret, or a changed byte: refused.
        let other = DeviceCookies::new(b"other", 1, true);
        assert!(other.verify("a@x.test", value(&c), 1000).is_none());
        let mut forged = value(&c).to_owned();
        forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
        assert!(d.verify("a@x.test", &forged, 1000).is_none());
        assert!(other.set_cookie("a@x.test", None, 0).ends_with("; Secure"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let d = DeviceCookies::new(b"secret", 1, false);
        let c = d.set_cookie("a@x.test", None, 1000);
        let pair = c.split(';').next().unwrap();
        let mut h = axum::http::HeaderMap::new();
        h.append(
            axum::http::header::COOKIE,
            format!("theme=dark; {pair}; x=1").parse().unwrap(),
        );
        assert!(d.from_headers(&h, "a@x.test", 1000).is_some());
        assert!(d.from_headers(&h, "b@x.test", 1000).is_none());
    }
}
