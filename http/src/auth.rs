//! Credentials: argon2id password hashes (OWASP parameters, hashed off the
//! async runtime), staff access tokens (short-lived HS256 JWTs signed with
//! the per-instance secret from the data dir) and signed visitor tokens.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
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

/// Hashes a password (blocking: call from `spawn_blocking` on the server).
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16-byte salt encodes");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters")
        .to_string()
}

/// Checks a password against a stored PHC hash (blocking).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => argon2().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
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

#[derive(Debug, Serialize, Deserialize)]
struct VisitorClaims {
    sub: VisitorId,
    tid: TenantId,
    kind: String,
    iat: u64,
}

/// Issues and checks tokens with the instance secret.
pub struct Tokens {
    enc: EncodingKey,
    dec: DecodingKey,
    access_ttl: u64,
}

impl Tokens {
    /// Keys from the instance secret.
    pub fn new(secret: &[u8], access_ttl_secs: u64) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            access_ttl: access_ttl_secs,
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

    /// A visitor token: recognises the visitor on their next page load.
    pub fn issue_visitor(&self, t: TenantId, v: VisitorId) -> String {
        let c = VisitorClaims {
            sub: v,
            tid: t,
            kind: "visitor".into(),
            iat: Timestamp::now().millis() / 1000,
        };
        encode(&Header::new(JwtAlg::HS256), &c, &self.enc).expect("HS256 signing")
    }

    /// The visitor a token names, if it is genuine and belongs to tenant `t`.
    pub fn verify_visitor(&self, t: TenantId, token: &str) -> Option<VisitorId> {
        let mut v = Validation::new(JwtAlg::HS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let c = decode::<VisitorClaims>(token, &self.dec, &v).ok()?.claims;
        (c.kind == "visitor" && c.tid == t).then_some(c.sub)
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
        let vt = t.issue_visitor(s.tenant_id, v);
        assert_eq!(t.verify_visitor(s.tenant_id, &vt), Some(v));
        assert_eq!(t.verify_visitor(TenantId::new(), &vt), None);
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
