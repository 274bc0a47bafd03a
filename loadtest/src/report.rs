//! What a run shows: a progress line each second, the summary table, the
//! JSON document and a self-contained HTML report (inline SVG charts).

use crate::stats::{Live, Merged, Tick};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

fn p99_ms(pairs: &crate::stats::Pairs) -> f64 {
    let mut h = crate::stats::histogram();
    pairs.add_to(&mut h);
    h.value_at_quantile(0.99) as f64 / 1000.0
}

/// One progress line on stderr.
pub fn progress(tick: &Tick, prev: Option<&Tick>, tail: &str) {
    let (pa, pd) = prev.map(|p| (p.acked, p.delivered)).unwrap_or((0, 0));
    eprintln!(
        "[{:>4}s] open {:>6} | acked {:>7}/s | delivered {:>7}/s | p99 ack {:>7.2} ms, delivery {:>7.2} ms{tail}",
        tick.t,
        tick.open,
        tick.acked - pa,
        tick.delivered - pd,
        p99_ms(&tick.ack),
        p99_ms(&tick.delivery),
    );
}

/// The end of a progress line: what went wrong so far.
pub fn tail(live: &Live) -> String {
    format!(
        " | dup {} ooo {} failed {}",
        live.duplicated.load(Relaxed),
        live.out_of_order.load(Relaxed),
        live.failed.load(Relaxed)
    )
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    (h.value_at_quantile(q) as f64 / 1000.0 * 1000.0).round() / 1000.0
}

fn lat(h: &Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "p50": ms(h, 0.5), "p90": ms(h, 0.9), "p99": ms(h, 0.99),
        "p999": ms(h, 0.999), "max": ms(h, 1.0),
    })
}

/// The JSON document of a run.
pub fn document(
    scenario: &str,
    m: &Merged,
    elapsed_s: f64,
    busy_s: Option<f64>,
    server: Option<Value>,
    config: Value,
) -> Value {
    let r = &m.raw;
    let span = busy_s.filter(|s| *s > 0.0).unwrap_or(elapsed_s).max(1e-9);
    let mut prev = (0, 0);
    let timeline: Vec<Value> = m
        .timeline
        .iter()
        .map(|(t, open, acked, delivered, a, d)| {
            let v = json!({
                "t": t, "open": open,
                "acked_per_s": acked.saturating_sub(prev.0), "delivered_per_s": delivered.saturating_sub(prev.1),
                "ack_p50": ms(a, 0.5), "ack_p99": ms(a, 0.99),
                "delivery_p50": ms(d, 0.5), "delivery_p99": ms(d, 0.99),
            });
            prev = (*acked, *delivered);
            v
        })
        .collect();
    let mut doc = json!({
        "scenario": scenario,
        "duration_s": span,
        "elapsed_s": elapsed_s,
        "connections": {"opened": r.opened, "failed": r.failed, "dropped": r.dropped},
        "messages": {
            "sent": r.sent, "acked": r.acked, "delivered": r.delivered,
            "lost": r.lost, "duplicated": r.duplicated, "out_of_order": r.out_of_order,
        },
        "throughput": {"acked_per_s": r.acked as f64 / span, "delivered_per_s": r.delivered as f64 / span},
        "latency_ms": {"ack": lat(&m.ack), "delivery": lat(&m.delivery), "reconnect": lat(&m.reconnect)},
        "config": config,
        "timeline": timeline,
    });
    if let Some(mut s) = server {
        let (rss, base) = (
            s["rss_bytes"].as_u64().unwrap_or(0),
            s["rss_baseline_bytes"].as_u64().unwrap_or(0),
        );
        if let Some(per) = rss.saturating_sub(base).checked_div(r.opened) {
            s["rss_per_connection_bytes"] = json!(per);
        }
        doc["server"] = s;
    }
    doc
}

/// The summary table printed at the end.
pub fn table(doc: &Value) -> String {
    let mut out = String::new();
    let l = &doc["latency_ms"];
    let m = &doc["messages"];
    let _ = writeln!(
        out,
        "\n{:<22} {}",
        "scenario",
        doc["scenario"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        out,
        "{:<22} {:.1} s",
        "measured span",
        doc["duration_s"].as_f64().unwrap_or(0.0)
    );
    let c = &doc["connections"];
    let _ = writeln!(
        out,
        "{:<22} {} opened, {} failed, {} dropped",
        "connections", c["opened"], c["failed"], c["dropped"]
    );
    let _ = writeln!(
        out,
        "{:<22} {} sent, {} acked, {} delivered",
        "messages", m["sent"], m["acked"], m["delivered"]
    );
    let _ = writeln!(
        out,
        "{:<22} {} lost, {} duplicated, {} out of order",
        "correctness", m["lost"], m["duplicated"], m["out_of_order"]
    );
    let t = &doc["throughput"];
    let _ = writeln!(
        out,
        "{:<22} {:.0} acked/s, {:.0} delivered/s",
        "throughput",
        t["acked_per_s"].as_f64().unwrap_or(0.0),
        t["delivered_per_s"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "p50", "p90", "p99", "p99.9", "max"
    );
    for k in ["ack", "delivery", "reconnect"] {
        if l[k]["count"].as_u64().unwrap_or(0) == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<22} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            format!("  {k}"),
            l[k]["p50"].as_f64().unwrap_or(0.0),
            l[k]["p90"].as_f64().unwrap_or(0.0),
            l[k]["p99"].as_f64().unwrap_or(0.0),
            l[k]["p999"].as_f64().unwrap_or(0.0),
            l[k]["max"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(s) = doc.get("server") {
        let mib = |v: &Value| v.as_u64().unwrap_or(0) as f64 / 1048576.0;
        let _ = writeln!(
            out,
            "{:<22} peak RSS {:.1} MiB (baseline {:.1} MiB, {:.1} KiB per connection), {:.1} CPU s",
            "server",
            mib(&s["rss_bytes"]),
            mib(&s["rss_baseline_bytes"]),
            s["rss_per_connection_bytes"].as_u64().unwrap_or(0) as f64 / 1024.0,
            s["cpu_s"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(p) = doc["config"]["pinned"].as_str() {
        let _ = writeln!(out, "{:<22} {p}", "cpu");
    }
    out
}

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// A line chart as inline SVG; `log_x` spaces x logarithmically.
fn chart(
    title: &str,
    y_unit: &str,
    x_label: &str,
    series: &[Series],
    ticks: &[(f64, String)],
) -> String {
    let (w, h, left, bottom) = (760.0, 300.0, 64.0, 40.0);
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 >= x1 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.1 };
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - 16.0);
    let py = |y: f64| (h - bottom) - y / y1 * (h - bottom - 16.0);
    let mut s = format!(
        r#"<figure><figcaption>{title}</figcaption><svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{title}">"#
    );
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#999"/>"##,
        h - bottom,
        w - 16.0,
        h - bottom
    );
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="16" x2="{left}" y2="{}" stroke="#999"/>"##,
        h - bottom
    );
    for i in 0..=4 {
        let y = y1 * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end">{:.2}</text><line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#eee"/>"##,
            left - 6.0,
            py(y) + 4.0,
            y,
            w - 16.0,
            py(y),
            py(y)
        );
    }
    for (x, label) in ticks {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">{label}</text>"#,
            px(*x),
            h - bottom + 16.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">{x_label}</text>"#,
        (w + left) / 2.0,
        h - 4.0
    );
    let _ = write!(s, r#"<text x="12" y="12" font-size="11">{y_unit}</text>"#);
    for (i, ser) in series.iter().enumerate() {
        let pts: Vec<String> = ser
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/><text x="{}" y="{}" font-size="12" fill="{}">{}</text>"#,
            ser.color,
            pts.join(" "),
            left + 12.0 + 150.0 * i as f64,
            28.0,
            ser.color,
            ser.name
        );
    }
    s.push_str("</svg></figure>");
    s
}

/// The self-contained HTML report.
pub fn html(doc: &Value, m: &Merged) -> String {
    let tl = doc["timeline"].as_array().cloned().unwrap_or_default();
    let over = |k: &str| {
        tl.iter()
            .map(|t| (t["t"].as_f64().unwrap_or(0.0), t[k].as_f64().unwrap_or(0.0)))
            .collect::<Vec<_>>()
    };
    let time_ticks: Vec<(f64, String)> = tl
        .iter()
        .map(|t| t["t"].as_f64().unwrap_or(0.0))
        .filter(|t| *t as u64 % 5 == 0)
        .map(|t| (t, format!("{t}")))
        .collect();
    let latency = chart(
        "Latency over time (per second)",
        "ms",
        "seconds",
        &[
            Series {
                name: "ack p50",
                color: "#8ab4f8",
                points: over("ack_p50"),
            },
            Series {
                name: "ack p99",
                color: "#1a56c4",
                points: over("ack_p99"),
            },
            Series {
                name: "delivery p50",
                color: "#f6b26b",
                points: over("delivery_p50"),
            },
            Series {
                name: "delivery p99",
                color: "#c45a1a",
                points: over("delivery_p99"),
            },
        ],
        &time_ticks,
    );
    let rate = chart(
        "Throughput over time",
        "messages/s",
        "seconds",
        &[
            Series {
                name: "acked/s",
                color: "#1a56c4",
                points: over("acked_per_s"),
            },
            Series {
                name: "delivered/s",
                color: "#c45a1a",
                points: over("delivered_per_s"),
            },
            Series {
                name: "open connections",
                color: "#6aa84f",
                points: over("open"),
            },
        ],
        &time_ticks,
    );
    // Percentile spectrum: x = log10(1 / (1 - q)).
    let qs = [0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999];
    let spectrum = |h: &Histogram<u64>| -> Vec<(f64, f64)> {
        qs.iter()
            .map(|q: &f64| ((1.0 / (1.0 - q)).log10(), ms(h, *q)))
            .collect()
    };
    let q_ticks: Vec<(f64, String)> = [
        (0.5, "p50"),
        (0.9, "p90"),
        (0.99, "p99"),
        (0.999, "p99.9"),
        (0.9999, "p99.99"),
    ]
    .iter()
    .map(|(q, l)| ((1.0f64 / (1.0 - q)).log10(), l.to_string()))
    .collect();
    let mut series = vec![];
    for (name, color, h) in [
        ("ack", "#1a56c4", &m.ack),
        ("delivery", "#c45a1a", &m.delivery),
        ("reconnect", "#6aa84f", &m.reconnect),
    ] {
        if !h.is_empty() {
            series.push(Series {
                name,
                color,
                points: spectrum(h),
            });
        }
    }
    let percentiles = chart(
        "Latency by percentile (whole run)",
        "ms",
        "percentile",
        &series,
        &q_ticks,
    );
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        r#"<!doctype html><html lang="en"><meta charset="utf-8"><title>parley-loadtest: {scenario}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2rem;max-width:820px}}pre{{background:#f6f6f6;padding:1rem;overflow:auto}}figure{{margin:1.5rem 0}}figcaption{{font-weight:600;margin-bottom:.3rem}}</style>
<h1>parley-loadtest — {scenario}</h1>
<pre>{table}</pre>
{latency}{rate}{percentiles}
<details><summary>JSON</summary><pre>{json}</pre></details>
</html>
"#,
        scenario = escape(doc["scenario"].as_str().unwrap_or("")),
        table = escape(&table(doc)),
        json = escape(&serde_json::to_string_pretty(doc).unwrap_or_default()),
    )
}
