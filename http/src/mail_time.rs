//! Times in mail, one way: every time a mail shows goes through the
//! template filters here, in the recipient's time zone when Parley knows it
//! (a staff member's Account setting, a visitor's browser), else the site's
//! (its business hours' zone), else UTC — and the zone is always named, so
//! "You wrote on 2026-12-07T16:06:43.415Z" reads "You wrote on Mon 7 Dec
//! 2026, 16:06 (UTC)". Mail has no viewer locale, so the clock is 24-hour.
//!
//! Templates write `{{ created_at | datetime }}`, `{{ start | timespan(end) }}`
//! and `{{ m.ts | clock }}`; the zone is the template variable `tz` (set by
//! [`crate::mail::queue`]'s caller, or filled in from the site), or an
//! explicit argument: `{{ t | datetime("Europe/Paris") }}`. A value is RFC 3339
//! text or milliseconds since the epoch.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime as Zoned};
use minijinja::{Environment, State, Value};

/// The template variable that names the zone a mail's times are shown in.
pub const ZONE_VAR: &str = "tz";

/// Registers the `datetime`, `timespan` and `clock` filters.
pub fn register(env: &mut Environment<'_>) {
    env.add_filter(
        "datetime",
        |state: &State, v: Value, zone: Option<String>| show(state, v, zone, datetime),
    );
    env.add_filter("clock", |state: &State, v: Value, zone: Option<String>| {
        show(state, v, zone, |z, _| z.strftime("%H:%M").to_string())
    });
    env.add_filter(
        "timespan",
        |state: &State, start: Value, end: Value, zone: Option<String>| {
            let name = zone_name(state, zone);
            let tz = zone_of(&name);
            match (instant(&start), instant(&end)) {
                (Some(s), Some(e)) => Value::from_safe_string(span(
                    &s.to_zoned_datetime(tz.clone()),
                    &e.to_zoned_datetime(tz),
                    &name,
                )),
                _ => start,
            }
        },
    );
}

/// A zone name fit to show and to look up: `name` when it is a known IANA
/// zone, else `UTC`.
pub fn known_zone(name: &str) -> String {
    let name = name.trim();
    if !name.is_empty() && name.len() <= 64 && TimeZone::get(name).is_ok() {
        name.to_string()
    } else {
        "UTC".to_string()
    }
}

/// `Mon 7 Dec 2026, 16:06 (UTC)`.
pub fn datetime(z: &Zoned, zone: &str) -> String {
    format!("{} ({zone})", z.strftime("%a %-d %b %Y, %H:%M"))
}

/// `Mon 7 Dec 2026, 14:00 – 14:30 (Europe/Paris)`; an end on another day
/// carries its own date.
pub fn span(s: &Zoned, e: &Zoned, zone: &str) -> String {
    let end = if s.date() == e.date() {
        e.strftime("%H:%M").to_string()
    } else {
        e.strftime("%a %-d %b %Y, %H:%M").to_string()
    };
    format!("{} – {end} ({zone})", s.strftime("%a %-d %b %Y, %H:%M"))
}

fn zone_name(state: &State, explicit: Option<String>) -> String {
    let name = explicit.or_else(|| {
        state
            .lookup(ZONE_VAR)
            .and_then(|v| v.as_str().map(str::to_string))
    });
    known_zone(name.as_deref().unwrap_or(""))
}

fn zone_of(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// A timestamp from RFC 3339 text or epoch milliseconds.
fn instant(v: &Value) -> Option<Timestamp> {
    if let Some(s) = v.as_str() {
        return s.parse::<Timestamp>().ok();
    }
    i64::try_from(v.clone())
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
}

/// Formats `v` with `f` in the zone in force; a value that is not a time is
/// shown as it is, escaped as any value (a mail is never lost to a
/// formatting slip). A formatted time holds only digits, letters and a zone
/// name, so it is marked safe: HTML shows `America/New_York`, not `&#x2f;`.
fn show(
    state: &State,
    v: Value,
    zone: Option<String>,
    f: impl Fn(&Zoned, &str) -> String,
) -> Value {
    let name = zone_name(state, zone);
    match instant(&v) {
        Some(t) => Value::from_safe_string(f(&t.to_zoned_datetime(zone_of(&name)), &name)),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn render(src: &str, ctx: Value) -> String {
        let mut env = Environment::new();
        register(&mut env);
        env.render_str(src, ctx).unwrap()
    }

    #[test]
    fn a_time_is_shown_in_the_zone_and_names_it() {
        let at = "2026-12-07T16:06:43.415Z";
        assert_eq!(
            render("{{ at | datetime }}", context! { at }),
            "Mon 7 Dec 2026, 16:06 (UTC)"
        );
        assert_eq!(
            render(
                "{{ at | datetime }}",
                context! { at, tz => "America/New_York" }
            ),
            "Mon 7 Dec 2026, 11:06 (America/New_York)"
        );
        assert_eq!(
            render(
                "{{ at | datetime('Asia/Kolkata') }}",
                context! { at, tz => "UTC" }
            ),
            "Mon 7 Dec 2026, 21:36 (Asia/Kolkata)"
        );
        assert_eq!(
            render("{{ at | clock }}", context! { at, tz => "Europe/Paris" }),
            "17:06"
        );
    }

    #[test]
    fn milliseconds_and_spans_across_midnight() {
        let start = 1_796_680_800_000_i64; // 2026-12-07T22:00:00Z
        let end = start + 3_600_000;
        assert_eq!(
            render(
                "{{ s | timespan(e) }}",
                context! { s => start, e => end, tz => "UTC" }
            ),
            "Mon 7 Dec 2026, 22:00 – 23:00 (UTC)"
        );
        assert_eq!(
            render(
                "{{ s | timespan(e) }}",
                context! { s => start, e => end, tz => "Europe/Paris" }
            ),
            "Mon 7 Dec 2026, 23:00 – Tue 8 Dec 2026, 00:00 (Europe/Paris)"
        );
    }

    #[test]
    fn an_unknown_zone_falls_back_to_utc_and_a_non_time_passes_through() {
        let at = "2026-12-07T16:06:43Z";
        assert_eq!(
            render("{{ at | datetime }}", context! { at, tz => "Mars/Olympus" }),
            "Mon 7 Dec 2026, 16:06 (UTC)"
        );
        assert_eq!(render("{{ 'soon' | datetime }}", context! {}), "soon");
        assert_eq!(known_zone(" Europe/Paris "), "Europe/Paris");
        assert_eq!(known_zone(""), "UTC");
    }
}
