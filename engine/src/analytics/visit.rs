//! What a visit is tagged with: device from the user agent, country from
//! the time zone, page path and referring host.

use super::VisitTags;
use std::collections::HashMap;

/// Browser, operating system and kind of device, from a user agent
/// (parsed by `woothee`, with its names folded into families).
pub fn describe(ua: &str) -> (String, &'static str, &'static str) {
    let Some(r) = woothee::parser::Parser::new().parse(ua) else {
        return ("Other".into(), "Other", "desktop");
    };
    let browser = match r.name {
        "UNKNOWN" | "" => "Other".to_string(),
        "Internet Explorer" => "IE".into(),
        n => n.to_string(),
    };
    let os = match r.os {
        "iPhone" | "iPad" | "iPod" | "iOS" => "iOS",
        "Android" => "Android",
        "Mac OSX" | "macOS" => "macOS",
        "ChromeOS" => "ChromeOS",
        "Linux" | "BSD" => "Linux",
        o if o.starts_with("Windows") => "Windows",
        _ => "Other",
    };
    let device = match (r.category, r.os) {
        (_, "iPad") => "tablet",
        ("smartphone" | "mobilephone", _) if ua.contains("Android") && !ua.contains("Mobile") => {
            "tablet"
        }
        ("smartphone" | "mobilephone", _) => "mobile",
        ("crawler", _) => "bot",
        _ => "desktop",
    };
    (browser, os, device)
}

static ZONES: &str = include_str!("../zones.txt");

/// The country (ISO 3166 alpha-2) of an IANA time zone, when it has one.
pub fn country_of_zone(tz: &str) -> Option<&'static str> {
    use std::sync::OnceLock;
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        ZONES
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, c)| c.len() == 2 && *c != "--")
            .collect()
    });
    map.get(tz).copied()
}

/// The path of a page URL (no scheme, host, query or fragment), clipped.
pub fn page_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = match rest.find('/') {
        Some(i) if url.contains("://") => &rest[i..],
        None if url.contains("://") => "/",
        _ => rest,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let path = if path.is_empty() { "/" } else { path };
    path.chars().take(200).collect()
}

/// The host of a referrer, unless it is empty or the page's own host.
pub fn referrer_host(referrer: &str, page_url: &str) -> String {
    let host = |u: &str| -> String {
        u.split_once("://")
            .map(|(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""))
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .chars()
            .take(100)
            .collect()
    };
    let r = host(referrer);
    if r.is_empty() || r == host(page_url) {
        String::new()
    } else {
        r.strip_prefix("www.").unwrap_or(&r).to_string()
    }
}

/// The tags of a visitor's visit, from what their browser said.
pub fn visit_tags(user_agent: &str, country: &str, referrer: String) -> VisitTags {
    let (browser, os, device) = describe(user_agent);
    VisitTags {
        device: device.into(),
        browser,
        os: os.into(),
        country: country.into(),
        referrer,
    }
}
