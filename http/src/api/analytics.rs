//! Analytics for owners and admins: a range of a site's (or every site's)
//! hourly buckets as totals, a series in the caller's time zone, an
//! hour-of-week heatmap and top lists; the staff's performance; CSV of
//! any table. Reads only buckets: never the message log.

use super::error::{ApiError, ApiQuery};
use super::principal::Authed;
use crate::state::App;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use jiff::tz::TimeZone;
use parley_engine::analytics::{
    default_resolution, hour_of, leaderboard, report_from, Bucket, Report, Resolution, StaffRow,
    Top, Totals, HOUR_MS,
};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::keys::Tally;
use parley_storage::{AnalyticsStore, AuthStore};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// The longest range one request reads.
const MAX_DAYS: u64 = 400;

/// The range of an analytics request.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// One site; without it, every site of the tenant.
    site_id: Option<String>,
    /// `24h`, `7d` (default), `30d`, `90d`, `365d`, or `custom` with `from`/`to`.
    range: Option<String>,
    /// RFC 3339 start (included).
    from: Option<String>,
    /// RFC 3339 end (excluded); default now.
    to: Option<String>,
    /// IANA time zone of the series and heatmap (default UTC).
    tz: Option<String>,
    /// `hour` or `day`; default hour up to two days, else day.
    resolution: Option<String>,
    /// For the CSV export: `totals`, `series`, `heatmap`, `top_pages`,
    /// `referrers`, `devices`, `browsers`, `os`, `countries`, `staff`.
    table: Option<String>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code::BAD_REQUEST, message)
}

/// The range asked for: `[from, to)`, the zone, the resolution.
struct Range {
    from: Timestamp,
    to: Timestamp,
    tz: TimeZone,
    resolution: Resolution,
}

fn range(q: &RangeQuery) -> Result<Range, ApiError> {
    let time = |v: &Option<String>, name: &str| -> Result<Option<Timestamp>, ApiError> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                Timestamp::parse_rfc3339(s)
                    .ok_or_else(|| bad(format!("{name} must be an RFC 3339 time")))
            })
            .transpose()
    };
    let now = Timestamp::now();
    let (from, to) = (time(&q.from, "from")?, time(&q.to, "to")?);
    let to = to.unwrap_or(now);
    let days = |d: u64| Timestamp(to.millis().saturating_sub(d * 24 * HOUR_MS));
    let from = match (q.range.as_deref(), from) {
        (None | Some("custom"), Some(f)) => f,
        (Some("24h"), None) => Timestamp(to.millis().saturating_sub(24 * HOUR_MS)),
        (None | Some("7d"), None) => days(7),
        (Some("30d"), None) => days(30),
        (Some("90d"), None) => days(90),
        (Some("365d"), None) => days(365),
        (Some("custom"), None) => return Err(bad("a custom range needs from")),
        (Some(_), Some(_)) => return Err(bad("give range or from, not both")),
        (Some(r), None) => {
            return Err(bad(format!(
                "range {r:?} is not one of 24h, 7d, 30d, 90d, 365d, custom"
            )))
        }
    };
    if from > to {
        return Err(bad("from is after to"));
    }
    if to.millis() - from.millis() > MAX_DAYS * 24 * HOUR_MS {
        return Err(bad(format!("a range spans at most {MAX_DAYS} days")));
    }
    let tz = match q.tz.as_deref().filter(|s| !s.is_empty()) {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name)
            .map_err(|_| bad(format!("{name:?} is not a known IANA time zone")))?,
    };
    let resolution = match q.resolution.as_deref() {
        None | Some("") => default_resolution(from, to),
        Some("hour") => Resolution::Hour,
        Some("day") => Resolution::Day,
        Some(_) => return Err(bad("resolution is hour or day")),
    };
    if resolution == Resolution::Hour && to.millis() - from.millis() > 31 * 24 * HOUR_MS {
        return Err(bad("an hourly series spans at most 31 days"));
    }
    Ok(Range {
        from,
        to,
        tz,
        resolution,
    })
}

fn last_hour(r: &Range) -> u32 {
    hour_of(Timestamp(r.to.millis().saturating_sub(1)))
}

/// The report of the range over one site or every site: kept a minute,
/// else made off the async threads in the tenant's turn ([`crate::reports`]).
/// Whole UTC days are read as daily rollups, the rest as hourly buckets.
async fn build(app: &App, me: &Authed, q: &RangeQuery) -> Result<Arc<Report>, ApiError> {
    me.require(Action::ReadAnalytics)?;
    let r = range(q)?;
    let sites = match q.site_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => vec![crate::app::sites::find(app, me, id)?.id],
        None => app.store.sites(me.tenant())?.iter().map(|s| s.id).collect(),
    };
    // The request as asked (a relative range's end is "now": kept a minute,
    // the report may be that much behind).
    let key = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{sites:?}",
        q.range, q.from, q.to, q.tz, q.resolution, q.site_id
    );
    let (store, t, geo) = (app.store.clone(), me.tenant(), app.geo_source());
    app.reports
        .get(t, key, move || {
            let (h0, h1) = (hour_of(r.from), last_hour(&r));
            let mut parts = Vec::with_capacity(sites.len());
            for s in sites {
                parts.push(store.site_range(t, s, h0, h1)?);
            }
            Ok(report_from(
                r.from,
                r.to,
                &r.tz,
                r.resolution,
                parts
                    .iter()
                    .flat_map(|p| p.buckets.iter().map(|(h, b)| (*h, b))),
                parts
                    .iter()
                    .flat_map(|p| p.days.iter().map(|(h, d)| (*h, d))),
                geo,
            ))
        })
        .await
}

/// Totals, series, heatmap and top lists of a range.
#[utoipa::path(get, path = "/api/v1/analytics", tag = "analytics", params(RangeQuery),
    responses((status = 200, description = "the report"), (status = 400), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(Report::clone(&*build(&app, &me, &q).await?)))
}

fn totals_row(t: &Totals) -> Vec<String> {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    vec![
        t.visitors.to_string(),
        t.page_views.to_string(),
        t.conversations.to_string(),
        t.missed.to_string(),
        t.messages_visitor.to_string(),
        t.messages_staff.to_string(),
        opt(t.first_response_ms_p50),
        opt(t.first_response_ms_p90),
        opt(t.resolution_ms_p50),
        t.rating_avg.map(|v| v.to_string()).unwrap_or_default(),
        t.contact_messages.to_string(),
        t.bookings.to_string(),
        t.subscribers.to_string(),
    ]
}

const TOTALS: [&str; 13] = [
    "visitors",
    "page_views",
    "conversations",
    "missed",
    "messages_visitor",
    "messages_staff",
    "first_response_ms_p50",
    "first_response_ms_p90",
    "resolution_ms_p50",
    "rating_avg",
    "contact_messages",
    "bookings",
    "subscribers",
];

/// One table of the report (or the staff's) as CSV.
#[utoipa::path(get, path = "/api/v1/analytics/export.csv", tag = "analytics", params(RangeQuery),
    responses((status = 200, content_type = "text/csv"), (status = 400), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn export(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Response, ApiError> {
    me.require(Action::ExportData)?;
    let table = q.table.clone().unwrap_or_else(|| "series".into());
    if table == "staff" {
        return staff_csv(&app, &me, &q);
    }
    let rep = build(&app, &me, &q).await?;
    let file = format!("analytics-{table}.csv");
    let tops = |rows: &[Top], name: &str| {
        super::csv_response(
            &file,
            &[name, "count"],
            rows.iter()
                .map(|t| vec![t.name.clone(), t.count.to_string()]),
        )
    };
    match table.as_str() {
        "totals" => super::csv_response(&file, &TOTALS, std::iter::once(totals_row(&rep.totals))),
        "series" => {
            let mut header = vec!["t"];
            header.extend(TOTALS);
            super::csv_response(
                &file,
                &header,
                rep.series.iter().map(|p| {
                    let mut row = vec![p.t.clone()];
                    row.extend(totals_row(&p.totals));
                    row
                }),
            )
        }
        "heatmap" => {
            let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
            let mut header = vec!["weekday"];
            header.extend(hours.iter().map(String::as_str));
            let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            super::csv_response(
                &file,
                &header,
                rep.heatmap.iter().zip(days).map(|(row, d)| {
                    std::iter::once(d.to_string())
                        .chain(row.iter().map(u64::to_string))
                        .collect()
                }),
            )
        }
        "top_pages" => tops(&rep.top_pages, "page"),
        "referrers" => tops(&rep.referrers, "referrer"),
        "devices" => tops(&rep.devices, "device"),
        "browsers" => tops(&rep.browsers, "browser"),
        "os" => tops(&rep.os, "os"),
        "countries" => tops(&rep.countries, "country"),
        other => Err(bad(format!("there is no table {other:?}"))),
    }
}

/// Every staff member's performance over the range, leaders first.
fn staff_rows(app: &App, me: &Authed, q: &RangeQuery) -> Result<Vec<StaffRow>, ApiError> {
    me.require(Action::ReadAnalytics)?;
    let r = range(q)?;
    let (h0, h1) = (hour_of(r.from), last_hour(&r));
    let mut rows = Vec::new();
    for s in app.store.staff_list(me.tenant())? {
        let mut sum = Bucket::default();
        for (_, b) in app.store.buckets(me.tenant(), Tally::Staff(s.id), h0, h1)? {
            sum.merge(&b);
        }
        if s.active || sum != Bucket::default() {
            rows.push(StaffRow::new(s.id, s.name.clone(), &sum));
        }
    }
    leaderboard(&mut rows);
    Ok(rows)
}

fn staff_csv(app: &App, me: &Authed, q: &RangeQuery) -> Result<Response, ApiError> {
    let rows = staff_rows(app, me, q)?;
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    super::csv_response(
        "analytics-staff.csv",
        &[
            "staff_id",
            "name",
            "chats",
            "messages",
            "first_response_ms_p50",
            "first_response_ms_p90",
            "handle_ms_p50",
            "rating_avg",
            "ratings",
            "online_secs",
            "contact_replies",
            "bookings",
        ],
        rows.iter().map(|r| {
            vec![
                r.staff_id.to_string(),
                r.name.clone(),
                r.chats.to_string(),
                r.messages.to_string(),
                opt(r.first_response_ms_p50),
                opt(r.first_response_ms_p90),
                opt(r.handle_ms_p50),
                r.rating_avg.map(|v| v.to_string()).unwrap_or_default(),
                r.ratings.to_string(),
                r.online_secs.to_string(),
                r.contact_replies.to_string(),
                r.bookings.to_string(),
            ]
        }),
    )
}

/// The staff's performance (a leaderboard: most chats first).
#[utoipa::path(get, path = "/api/v1/analytics/staff", tag = "analytics", params(RangeQuery),
    responses((status = 200, description = "`{items:[…]}`"), (status = 400), (status = 403)),
    security(("bearer" = [])))]
pub async fn staff(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = staff_rows(&app, &me, &q)?;
    Ok(Json(serde_json::json!({ "items": rows })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> RangeQuery {
        RangeQuery {
            site_id: None,
            range: range.map(Into::into),
            from: from.map(Into::into),
            to: to.map(Into::into),
            tz: None,
            resolution: None,
            table: None,
        }
    }

    #[test]
    fn ranges_are_checked() {
        let r = range(&q(Some("24h"), None, Some("2026-03-02T00:00:00Z"))).unwrap();
        assert_eq!(r.to.millis() - r.from.millis(), 24 * HOUR_MS);
        assert_eq!(r.resolution, Resolution::Hour);
        let r = range(&q(None, None, None)).unwrap();
        assert_eq!(r.resolution, Resolution::Day);
        let later = q(
            None,
            Some("2026-03-02T00:00:00Z"),
            Some("2026-03-01T00:00:00Z"),
        );
        assert!(range(&later).is_err());
        assert!(range(&q(Some("2y"), None, None)).is_err());
        assert!(range(&q(None, Some("yesterday"), None)).is_err());
    }
}
