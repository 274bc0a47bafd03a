//! Credentials: argon2id password hashes (OWASP parameters, hashed off the
//! async runtime), staff access tokens (short-lived HS256 JWTs signed with
//! the per-instance secret from the data dir) and signed visitor tokens.

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use jsonwebtoken::{
    decode, encode, Algorithm as JwtAlg, DecodingKey, EncodingKey, Header, Validation,
};
use parley_engine::records::StaffRecord;
use parley_engine::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// This thread's argon2 working memory (19 MiB), reused by every hash
    /// it runs: a fresh allocation per hash is kept by glibc's malloc after
    /// free (its mmap threshold grows to the freed size), so memory would
    /// creep up with every sign-in on every thread that ever hashed.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs argon2 with `params` over this thread's reusable working memory.
fn argon2_with_memory(
    a: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        let n = params.block_count();
        if b.len() < n {
            b.resize(n, Block::default());
        }
        a.hash_password_into_with_memory(password, salt, out, &mut b[..n])
    })
}

/// Hashes a password into a PHC string (blocking: the server runs it on
/// its hashing threads).
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let a = argon2();
    let params = a.params().clone();
    let out = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2_with_memory(&a, &params, password.as_bytes(), &salt, out)
            .map_err(|_| password_hash::Error::Crypto)
    })
    .expect("argon2 hashing with valid parameters");
    let salt = SaltString::encode_b64(&salt).expect("16-byte salt encodes");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("argon2 parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(out),
    }
    .to_string()
}

/// Checks a password against a stored PHC hash (blocking), in constant time.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let check = || -> Option<bool> {
        let h = PasswordHash::new(phc).ok()?;
        let alg = Algorithm::try_from(h.algorithm).ok()?;
        let version = Version::try_from(h.version?).ok()?;
        let params = Params::try_from(&h).ok()?;
        let expected = h.hash?;
        let mut salt = [0u8; 64];
        let salt = h.salt?.decode_b64(&mut salt).ok()?;
        let a = Argon2::new(alg, version, params.clone());
        let got = Output::init_with(expected.len(), |out| {
            argon2_with_memory(&a, &params, password.as_bytes(), salt, out)
                .map_err(|_| password_hash::Error::Crypto)
        })
        .ok()?;
        // `Output` compares in constant time.
        Some(got == expected)
    };
    check().unwrap_or(false)
}

/// A hash of a random password, so an unknown email costs as much as a wrong password.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password-0"))
}

/// 32 random bytes for the instance secret.
pub fn fresh_secret() -> Vec<u8> {
    let mut s = vec![0u8; 32];
    rand::rng().fill_bytes(&mut s);
    s
}

/// SHA-256 of a secret token, the form it is stored in.
pub fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `user_hash` (hex) is the HMAC-SHA256 of `user_id` with the
/// site's identity `secret`, compared in constant time.
pub fn identity_hash_ok(secret: &str, user_id: &str, user_hash: &str) -> bool {
    use hmac::{Hmac, Mac};
    let h = user_hash.trim();
    if h.len() != 64 {
        return false;
    }
    let Some(bytes) = (0..32)
        .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(user_id.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// A random URL-safe token of `n` characters.
pub fn random_key(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

/// Claims of a staff access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffClaims {
    pub sub: StaffId,
    pub tid: TenantId,
    /// The staff member's `token_version` when issued.
    pub ver: u32,
    pub kind: String,
    /// The sign-in session the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    pub iat: u64,
    pub exp: u64,
}

/// Claims of an instance operator's access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorClaims {
    pub sub: StaffId,
    pub kind: String,
    pub iat: u64,
    pub exp: u64,
}

/// What a signed link in a mail lets its holder do, and to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// `booking` (cancel or reschedule), `confirm` (a newsletter sign-up)
    /// or `unsubscribe`.
    pub act: String,
    pub tid: TenantId,
    /// The record's id.
    pub sub: String,
    /// The record's link version when issued: a link works only while it
    /// is current, which makes it single-use where the record bumps it.
    pub ver: u32,
    pub kind: String,
    pub exp: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct VisitorClaims {
    sub: VisitorId,
    tid: TenantId,
    /// The site the token was issued on; it works there only. Tokens from
    /// before sites were bound carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<SiteId>,
    kind: String,
    iat: u64,
}

/// A genuine visitor token, as checked on one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitorToken {
    pub visitor: VisitorId,
    /// Bound to this site; `false` for a token from before tokens named
    /// their site (accepted on the tenant's sites, and replaced by a bound
    /// one at the next `welcome`).
    pub bound: bool,
}

/// Issues and checks tokens with the instance secret.
pub struct Tokens {
    enc: EncodingKey,
    dec: DecodingKey,
    access_ttl: u64,
    /// Visitors whose data was erased: their old tokens start afresh.
    erased: std::sync::RwLock<std::collections::HashSet<(TenantId, VisitorId)>>,
}

impl Tokens {
    /// Keys from the instance secret.
    pub fn new(secret: &[u8], access_ttl_secs: u64) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            access_ttl: access_ttl_secs,
            erased: Default::default(),
        }
    }

    /// Seconds an access token lives.
    pub fn access_ttl(&self) -> u64 {
        self.access_ttl
    }

    /// A fresh access token for `s` in sign-in session `sid`.
    pub fn issue_staff(&self, s: &StaffRecord, sid: Option<SessionId>) -> String {
        let now = Timestamp::now().millis() / 1000;
        let c = StaffClaims {
            sub: s.id,
            tid: s.tenant_id,
            ver: s.token_version,
            kind: "staff".into(),
            sid,
            iat: now,
            exp: now + self.access_ttl,
        };
        encode(&Header::new(JwtAlg::HS256), &c, &self.enc).expect("HS256 signing")
    }

    /// A fresh access token for the instance operator `id`.
    pub fn issue_operator(&self, id: StaffId) -> String {
        let now = Timestamp::now().millis() / 1000;
        let c = OperatorClaims {
            sub: id,
            kind: "superadmin".into(),
            iat: now,
            exp: now + self.access_ttl,
        };
        encode(&Header::new(JwtAlg::HS256), &c, &self.enc).expect("HS256 signing")
    }

    /// Verifies an operator token.
    pub fn verify_operator(&self, token: &str) -> Option<OperatorClaims> {
        let mut v = Validation::new(JwtAlg::HS256);
        v.leeway = 0;
        let c = decode::<OperatorClaims>(token, &self.dec, &v).ok()?.claims;
        (c.kind == "superadmin").then_some(c)
    }

    /// Verifies signature, expiry and kind of a staff token.
    pub fn verify_staff(&self, token: &str) -> Option<StaffClaims> {
        let mut v = Validation::new(JwtAlg::HS256);
        v.leeway = 0;
        let c = decode::<StaffClaims>(token, &self.dec, &v).ok()?.claims;
        (c.kind == "staff").then_some(c)
    }

    /// A signed link token for `act` on record `sub` of tenant `t`,
    /// valid until `until`.
    pub fn issue_link(
        &self,
        act: &str,
        t: TenantId,
        sub: &str,
        ver: u32,
        until: Timestamp,
    ) -> String {
        let c = LinkClaims {
            act: act.into(),
            tid: t,
            sub: sub.into(),
            ver,
            kind: "link".into(),
            exp: until.millis() / 1000,
        };
        encode(&Header::new(JwtAlg::HS256), &c, &self.enc).expect("HS256 signing")
    }

    /// The claims of a genuine, unexpired link token.
    pub fn verify_link(&self, token: &str) -> Option<LinkClaims> {
        let mut v = Validation::new(JwtAlg::HS256);
        v.leeway = 0;
        let c = decode::<LinkClaims>(token, &self.dec, &v).ok()?.claims;
        (c.kind == "link").then_some(c)
    }

    /// A visitor token: recognises the visitor on their next page load of
    /// site `site`, and on no other site.
    pub fn issue_visitor(&self, t: TenantId, site: SiteId, v: VisitorId) -> String {
        let c = VisitorClaims {
            sub: v,
            tid: t,
            sid: Some(site),
            kind: "visitor".into(),
            iat: Timestamp::now().millis() / 1000,
        };
        encode(&Header::new(JwtAlg::HS256), &c, &self.enc).expect("HS256 signing")
    }

    /// The visitor a token names, if it is genuine, belongs to tenant `t`
    /// and was issued on `site`.
    pub fn verify_visitor(&self, t: TenantId, site: SiteId, token: &str) -> Option<VisitorToken> {
        let mut v = Validation::new(JwtAlg::HS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let c = decode::<VisitorClaims>(token, &self.dec, &v).ok()?.claims;
        if c.kind != "visitor" || c.tid != t || self.is_erased(t, c.sub) {
            return None;
        }
        match c.sid {
            Some(s) if s != site => None,
            sid => Some(VisitorToken {
                visitor: c.sub,
                bound: sid.is_some(),
            }),
        }
    }

    /// From now on `v`'s tokens are refused (their data was erased).
    pub fn forget_visitor(&self, t: TenantId, v: VisitorId) {
        if let Ok(mut e) = self.erased.write() {
            e.insert((t, v));
        }
    }

    fn is_erased(&self, t: TenantId, v: VisitorId) -> bool {
        self.erased.read().is_ok_and(|e| e.contains(&(t, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::permissions::Role;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse 9");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse 9", &h));
        assert!(!verify_password("wrong horse 9", &h));
        assert!(!verify_password("x", "not a hash"));
        // Hashes made by the argon2 crate's own path still verify, and ours
        // verify with it: the PHC strings are the same format.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let theirs = argon2()
            .hash_password(
                b"correct horse 9",
                &SaltString::encode_b64(&[3u8; 16]).unwrap(),
            )
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse 9", &theirs));
        let ours = PasswordHash::new(&h).unwrap();
        assert!(argon2().verify_password(b"correct horse 9", &ours).is_ok());
        assert!(argon2().verify_password(b"wrong horse 9", &ours).is_err());
    }

    #[test]
    fn identity_hashes_are_hmac_sha256_hex() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let known = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let msg = "The quick brown fox jumps over the lazy dog";
        assert!(identity_hash_ok("key", msg, known));
        assert!(identity_hash_ok("key", msg, &known.to_uppercase()));
        assert!(!identity_hash_ok("key", "another user", known));
        assert!(!identity_hash_ok("other key", msg, known));
        assert!(!identity_hash_ok("key", msg, "zz"));
        assert!(!identity_hash_ok("key", msg, &"g".repeat(64)));
    }

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        let t = Tokens::new(&[7u8; 32], 60);
        let other = Tokens::new(&[8u8; 32], 60);
        let s = StaffRecord {
            id: StaffId::new(),
            tenant_id: TenantId::new(),
            email: "a@b.co".into(),
            name: "A".into(),
            role: Role::Agent,
            password_hash: String::new(),
            token_version: 3,
            active: true,
            created_at: Timestamp::now(),
        };
        let tok = t.issue_staff(&s, None);
        let c = t.verify_staff(&tok).unwrap();
        assert_eq!((c.sub, c.tid, c.ver), (s.id, s.tenant_id, 3));
        assert!(other.verify_staff(&tok).is_none());
        let v = VisitorId::new();
        let site = SiteId::new();
        let vt = t.issue_visitor(s.tenant_id, site, v);
        let bound = VisitorToken {
            visitor: v,
            bound: true,
        };
        assert_eq!(t.verify_visitor(s.tenant_id, site, &vt), Some(bound));
        assert_eq!(t.verify_visitor(TenantId::new(), site, &vt), None);
        assert_eq!(
            t.verify_visitor(s.tenant_id, SiteId::new(), &vt),
            None,
            "a visitor token works on its own site only"
        );
        // A token from before tokens named their site.
        let legacy = VisitorClaims {
            sub: v,
            tid: s.tenant_id,
            sid: None,
            kind: "visitor".into(),
            iat: 0,
        };
        let old = encode(&Header::new(JwtAlg::HS256), &legacy, &t.enc).unwrap();
        assert_eq!(
            t.verify_visitor(s.tenant_id, SiteId::new(), &old),
            Some(VisitorToken {
                visitor: v,
                bound: false
            })
        );
        assert!(
            t.verify_staff(&vt).is_none(),
            "a visitor token is not a staff token"
        );
        let op = t.issue_operator(StaffId::new());
        assert!(t.verify_operator(&op).is_some());
        assert!(
            t.verify_staff(&op).is_none(),
            "an operator token is not a staff token"
        );
        assert!(t.verify_operator(&tok).is_none());
    }
}
