//! CSV downloads: every cell quoted, and a cell a spreadsheet could run as
//! a formula defused (CSV injection). Small tables are written at once
//! ([`csv_response`]); a tenant's records are streamed a page at a time
//! ([`csv_pages`]) so an export of a big list never sits whole in memory.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::Arc;

/// Records read from the store for each chunk of a streamed export.
const PAGE: usize = 500;

/// `cell` made safe to open in a spreadsheet. A spreadsheet runs a cell
/// starting with `=`, `+`, `-` or `@` (and tab or carriage return) as a
/// formula — also the part after a `,`, `;`, tab or line break when it
/// splits the line at that separator itself (a semicolon locale opening a
/// comma-separated file). Each such part gets a `'` in front, unless it is
/// only a number or phone number (digits, spaces, `+-().`), which cannot run.
pub fn defuse(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut rest = cell;
    loop {
        let end = rest
            .find([',', ';', '\t', '\r', '\n'])
            .map_or(rest.len(), |i| i + 1);
        let part = &rest[..end];
        let body = part.trim_end_matches([',', ';', '\t', '\r', '\n']);
        let lead = body.trim_start_matches(' ');
        let plain = body
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch));
        if lead.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain {
            out.push('\'');
        }
        out.push_str(part);
        if end == rest.len() {
            return out;
        }
        rest = &rest[end..];
    }
}

/// Writes `rows` as CSV lines: every cell quoted and defused.
fn encode<'a>(
    rows: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>,
) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    for row in rows {
        w.write_record(row.into_iter().map(defuse))
            .map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

fn headers(filename: &str) -> [(header::HeaderName, String); 2] {
    [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ),
    ]
}

/// A CSV download written at once: a header row, then one row per record.
pub fn csv_response(
    filename: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Response, ApiError> {
    let mut body = encode([header.iter().copied()])?;
    for row in rows {
        body.extend(encode([row.iter().map(String::as_str)])?);
    }
    Ok((headers(filename), body).into_response())
}

/// Reads and writes one page of a streamed export: its bytes, and the key
/// to read on from (`None` after the last page).
type PageFn<K> = dyn Fn(Option<K>) -> Result<(Bytes, Option<K>), ApiError> + Send + Sync;

/// Runs one page on the blocking pool (the store's reads block).
async fn run_page<K: Send + 'static>(
    page: Arc<PageFn<K>>,
    after: Option<K>,
) -> Result<(Bytes, Option<K>), ApiError> {
    tokio::task::spawn_blocking(move || page(after))
        .await
        .map_err(ApiError::internal)?
}

/// A CSV download streamed a page of records at a time: `fetch(after, n)`
/// reads at most `n` records following the one `key` named (from the start
/// when `None`) and runs on the blocking pool, one page each time the client
/// has taken the last. The first page is read before answering, so a store
/// error then is a plain 500; one later ends the body early (logged).
pub async fn csv_pages<R, K>(
    filename: &str,
    header: &'static [&'static str],
    fetch: impl Fn(Option<K>, usize) -> Result<Vec<R>, ApiError> + Send + Sync + 'static,
    key: impl Fn(&R) -> K + Send + Sync + 'static,
    row: impl Fn(&R) -> Vec<String> + Send + Sync + 'static,
) -> Result<Response, ApiError>
where
    R: Send + 'static,
    K: Send + 'static,
{
    let page: Arc<PageFn<K>> = Arc::new(
        move |after: Option<K>| -> Result<(Bytes, Option<K>), ApiError> {
            let items = fetch(after, PAGE)?;
            let next = if items.len() == PAGE {
                items.last().map(&key)
            } else {
                None
            };
            let rows: Vec<Vec<String>> = items.iter().map(&row).collect();
            let body = encode(rows.iter().map(|r| r.iter().map(String::as_str)))?;
            Ok((Bytes::from(body), next))
        },
    );
    let head = encode([header.iter().copied()])?;
    let (first, next) = run_page(page.clone(), None).await?;
    let rest = futures_util::stream::try_unfold(next, move |after| {
        let page = page.clone();
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            match run_page(page, Some(after)).await {
                Ok((chunk, next)) => Ok(Some((chunk, next))),
                Err(_) => {
                    tracing::warn!("a CSV export ended early: its next page could not be read");
                    Err(std::io::Error::other("the export could not be read"))
                }
            }
        }
    });
    let start = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(head)), Ok(first)]);
    let body = Body::from_stream(start.chain(rest));
    Ok((headers(filename), body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_is_defused_at_the_start_and_after_any_separator() {
        assert_eq!(defuse("=1+1"), "'=1+1");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            defuse("hello;=cmd|' /C calc'!A0"),
            "hello;'=cmd|' /C calc'!A0"
        );
        assert_eq!(defuse("a,+b; -c\n@d"), "a,'+b;' -c\n'@d");
        assert_eq!(defuse("x\t=y"), "x\t'=y");
        // Numbers and phone numbers stay as they are, anywhere.
        assert_eq!(defuse("+33 1 23 45 67 89"), "+33 1 23 45 67 89");
        assert_eq!(defuse("-42"), "-42");
        assert_eq!(defuse("10;-5"), "10;-5");
        assert_eq!(defuse("plain text, no formula"), "plain text, no formula");
        assert_eq!(defuse(""), "");
    }

    #[test]
    fn every_cell_is_quoted() {
        let out = encode([["a", "b\"c", "=d;e"]]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\",\"b\"\"c\",\"'=d;e\"\n"
        );
    }
}
