//! Input validation shared by every entry point. Each check returns the
//! protocol error code and a human sentence, so a WebSocket frame and a REST
//! body get the same answer for the same mistake.

use crate::codes::error;

/// The longest message body, in characters (not bytes).
pub const MAX_BODY_CHARS: usize = 4000;
/// The longest `client_id`, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 64;
/// The longest rating comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// The shortest acceptable password.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A refused input: a contract error code and a human sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A message body: not blank, at most `max_chars` characters.
pub fn body(text: &str, max_chars: usize) -> Result<(), Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid::new(error::EMPTY, "the message is empty"));
    }
    // Count characters only when the byte length could exceed the limit.
    if text.len() > max_chars && text.chars().count() > max_chars {
        return Err(Invalid::new(
            error::TOO_LONG,
            format!("the message is longer than {max_chars} characters"),
        ));
    }
    Ok(())
}

/// A `client_id`: 1 to 64 bytes of visible ASCII.
pub fn client_id(id: &str) -> Result<(), Invalid> {
    if id.is_empty() || id.len() > MAX_CLIENT_ID_BYTES || !id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Invalid::new(
            error::INVALID,
            format!("client_id must be 1 to {MAX_CLIENT_ID_BYTES} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// A rating: score 1 to 5, comment of bounded length.
pub fn rating(score: u8, comment: &str) -> Result<(), Invalid> {
    if !(1..=5).contains(&score) {
        return Err(Invalid::new(
            error::INVALID,
            "score must be between 1 and 5",
        ));
    }
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(Invalid::new(
            error::TOO_LONG,
            format!("the comment is longer than {MAX_COMMENT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Normalises and checks an email address: trimmed, lower-cased, one `@`
/// with text on both sides and a dot in the domain.
pub fn email(raw: &str) -> Result<String, Invalid> {
    let e = raw.trim().to_ascii_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok {
        Ok(e)
    } else {
        Err(Invalid::new(
            error::INVALID,
            "that is not a valid email address",
        ))
    }
}

/// A password: at least 10 characters, not all of one character class, not the email.
pub fn password(pw: &str, email: &str) -> Result<(), Invalid> {
    let weak = |m: &str| Err(Invalid::new(error::WEAK_PASSWORD, m.to_string()));
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return weak("the password must have at least 10 characters");
    }
    let classes = [
        pw.chars().any(|c| c.is_lowercase()),
        pw.chars().any(|c| c.is_uppercase()),
        pw.chars().any(|c| c.is_ascii_digit()),
        pw.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|x| **x).count() < 2 {
        return weak(
            "the password must mix at least two kinds of characters (letters, digits, symbols)",
        );
    }
    if pw.eq_ignore_ascii_case(email)
        || pw.eq_ignore_ascii_case(email.split('@').next().unwrap_or(""))
    {
        return weak("the password must not be your email address");
    }
    Ok(())
}

/// A display name: 1 to 100 characters after trimming.
pub fn name(raw: &str) -> Result<String, Invalid> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(Invalid::new(
            error::INVALID,
            "a name must have 1 to 100 characters",
        ));
    }
    Ok(n.to_string())
}

/// A page address a visitor's browser reported, kept only when it is a web
/// address (`http:` or `https:`): anything else (`javascript:`, `data:`…)
/// would become a link in the dashboard. Others come back empty.
pub fn web_url(raw: String) -> String {
    let t = raw.trim_start();
    let web = ["http://", "https://"]
        .iter()
        .any(|p| t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)));
    if web {
        raw
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_addresses_are_kept() {
        for ok in ["https://acme.test/x", "HTTP://a.b/", " https://a.b"] {
            assert_eq!(web_url(ok.into()), ok);
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:x",
            "data:text/html,x",
            "//evil.test",
            "httpx://a",
            "",
        ] {
            assert_eq!(web_url(bad.into()), "", "{bad}");
        }
    }

    #[test]
    fn body_limits_count_characters() {
        assert!(body("hi", 4000).is_ok());
        assert_eq!(body("  \n", 4000).unwrap_err().code, "empty");
        let emoji = "é".repeat(4000); // 8000 bytes, 4000 characters
        assert!(body(&emoji, 4000).is_ok());
        assert_eq!(body(&"a".repeat(4001), 4000).unwrap_err().code, "too_long");
    }

    #[test]
    fn client_ids() {
        assert!(client_id("c-1").is_ok());
        assert!(client_id("").is_err());
        assert!(client_id("has space").is_err());
        assert!(client_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn emails_and_passwords() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        assert!(email("nope").is_err());
        assert!(email("a@b").is_err());
        assert!(password("short1A", "a@b.c").is_err());
        assert!(password("aaaaaaaaaaaa", "a@b.c").is_err());
        assert!(password("correct horse 9", "a@b.c").is_ok());
        assert!(password("ann@example.com", "ann@example.com").is_err());
        assert!(rating(0, "").is_err());
        assert!(rating(5, "great").is_ok());
    }
}
