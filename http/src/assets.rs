//! Static web assets, embedded in the binary: compressed once at start
//! (gzip), served with an ETag (304 on a match) and cache headers. A
//! versioned name (`panel.{etag}.js`) is immutable and cached for a year;
//! the loader and pages revalidate.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: bytes::Bytes,
    pub gzip: bytes::Bytes,
    pub etag: String,
}

/// How long a response may be cached.
#[derive(Clone, Copy)]
pub enum Cache {
    /// Versioned URL: never changes.
    Immutable,
    /// Stable URL: revalidate with the ETag, but use a copy for a few minutes.
    Short,
    /// A page: revalidate every time.
    Revalidate,
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "loader.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/widget/loader.js"),
    ),
    (
        "loader.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/widget/loader.css"),
    ),
    (
        "company.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/site/company.css"),
    ),
    (
        "frame.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/widget/frame.html"),
    ),
    (
        "panel.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/widget/panel.js"),
    ),
    (
        "history.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/widget/history.js"),
    ),
    (
        "panel.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/widget/panel.css"),
    ),
    (
        "demo.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/widget/demo.html"),
    ),
    (
        "demo.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/widget/demo.js"),
    ),
    (
        "landing.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/dashboard/landing.html"),
    ),
    (
        "app.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/dashboard/app.html"),
    ),
    (
        "admin.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/dashboard/admin.html"),
    ),
    (
        "link.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/site/link.html"),
    ),
    (
        "company.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/site/company.html"),
    ),
    (
        "company.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/site/company.js"),
    ),
    (
        "link.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/site/link.js"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/dashboard/dashboard.css"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/api.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/live.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/app.js"),
    ),
    (
        "inbox.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/inbox.js"),
    ),
    (
        "visitors.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/visitors.js"),
    ),
    (
        "backoffice.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/backoffice.js"),
    ),
    (
        "manage.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/manage.js"),
    ),
    (
        "landing.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/landing.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/admin.js"),
    ),
    (
        "gate.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/gate.js"),
    ),
    (
        "time.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/time.js"),
    ),
    (
        "timezone.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/timezone.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/charts.js"),
    ),
    (
        "analytics.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/analytics.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/dashboard/ui.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../web/dashboard/favicon.svg"),
    ),
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_bytes!("../web/dashboard/manifest.webmanifest"),
    ),
];

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(body).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

fn etag(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Scripts are served without indentation and comment-only lines (what a
/// minifier would save most of, with no build step): our sources keep no
/// multi-line strings, so this never changes what a script does.
fn compact(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim) {
        if !line.is_empty() && !line.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.into_bytes()
}

fn build(name: &'static str, content_type: &'static str, body: Vec<u8>) -> Asset {
    let body = if name.ends_with(".js") {
        compact(&body)
    } else {
        body
    };
    Asset {
        name,
        content_type,
        gzip: gzip(&body).into(),
        etag: etag(&body),
        body: body.into(),
    }
}

/// Every asset by name. The frame's HTML points at the versioned URLs of
/// the panel's script and style, and the loader at its style sheet's,
/// filled in here.
pub fn all() -> &'static HashMap<&'static str, Asset> {
    static ALL: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut m: HashMap<&'static str, Asset> = FILES
            .iter()
            .map(|(n, t, b)| (*n, build(n, t, b.to_vec())))
            .collect();
        // The panel loads its history view lazily, by its versioned URL.
        let panel = String::from_utf8_lossy(&m["panel.js"].body)
            .replace("{{history.js}}", &versioned(&m["history.js"]));
        m.insert(
            "panel.js",
            build(
                "panel.js",
                "text/javascript; charset=utf-8",
                panel.into_bytes(),
            ),
        );
        let html = String::from_utf8_lossy(&m["frame.html"].body)
            .replace("{{panel.js}}", &versioned(&m["panel.js"]))
            .replace("{{panel.css}}", &versioned(&m["panel.css"]));
        m.insert(
            "frame.html",
            build("frame.html", "text/html; charset=utf-8", html.into_bytes()),
        );
        // The loader fetches its style sheet by its versioned URL too.
        let loader = String::from_utf8_lossy(&m["loader.js"].body)
            .replace("{{loader.css}}", &versioned(&m["loader.css"]));
        m.insert(
            "loader.js",
            build(
                "loader.js",
                "text/javascript; charset=utf-8",
                loader.into_bytes(),
            ),
        );
        m
    })
}

/// The versioned URL of an asset: `/widget/assets/panel.{etag}.js`.
pub fn versioned(a: &Asset) -> String {
    let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
    format!("/widget/assets/{stem}.{}.{ext}", a.etag)
}

/// One asset by name.
pub fn get(name: &str) -> Option<&'static Asset> {
    all().get(name)
}

/// An asset by its public file name: `panel.js` (revalidated) or a
/// versioned `panel.{etag}.js` of the current build (immutable).
pub fn lookup(file: &str) -> Option<(&'static Asset, Cache)> {
    if let Some(a) = get(file) {
        return Some((a, Cache::Short));
    }
    let (rest, ext) = file.rsplit_once('.')?;
    let (stem, tag) = rest.rsplit_once('.')?;
    let a = get(&format!("{stem}.{ext}"))?;
    (a.etag == tag).then_some((a, Cache::Immutable))
}

/// Serves an asset: 304 when the client's copy matches, gzip when accepted.
pub fn serve(a: &Asset, req: &HeaderMap, cache: Cache) -> Response {
    let etag = format!("\"{}\"", a.etag);
    let cache_control = match cache {
        Cache::Immutable => "public, max-age=31536000, immutable",
        Cache::Short => "public, max-age=300, must-revalidate",
        Cache::Revalidate => "no-cache",
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    let matches = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    let gz = req
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if gz {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, a.gzip.clone()).into_response()
    } else {
        (headers, a.body.clone()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_lose_indentation_and_comment_lines_only() {
        let src = b"// head\n  const u = 'http://x'; // tail\n\n    f();\n";
        assert_eq!(
            String::from_utf8(compact(src)).unwrap(),
            "const u = 'http://x'; // tail\nf();\n"
        );
        let served = &get("loader.js").unwrap().body;
        assert!(!served.starts_with(b"//") && !served.starts_with(b" "));
    }

    #[test]
    fn the_panel_loads_its_history_view_by_its_versioned_url() {
        let panel = String::from_utf8_lossy(&get("panel.js").unwrap().body).to_string();
        assert!(panel.contains(&versioned(get("history.js").unwrap())));
        assert!(!panel.contains("{{"), "{panel}");
    }

    #[test]
    fn the_frame_points_at_versioned_assets() {
        let html = String::from_utf8_lossy(&get("frame.html").unwrap().body).to_string();
        let js = get("panel.js").unwrap();
        assert!(html.contains(&versioned(js)), "{html}");
        assert!(!html.contains("{{"));
    }
}
