//! What a run measures: counters, HDR latency histograms (microseconds) and
//! a per-second timeline. A worker process reports the same structures as
//! JSON, so the parent merges K workers exactly as it would merge tasks.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch: the send stamp every message carries,
/// comparable across the worker processes of one machine.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Adds `n` to a live counter.
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// Latencies from 1 µs to 10 min, 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// A histogram as `(value, count)` pairs: compact and exact per bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Pairs(pub Vec<(u64, u64)>);

impl Pairs {
    pub fn of(h: &Histogram<u64>) -> Self {
        Self(
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        )
    }

    pub fn add_to(&self, h: &mut Histogram<u64>) {
        for &(v, n) in &self.0 {
            let _ = h.record_n(v.max(1), n);
        }
    }
}

/// The kinds of latency recorded.
#[derive(Clone, Copy, Debug)]
pub enum Lat {
    /// Send → durable `ack`.
    Ack = 0,
    /// Send → the frame reaching a receiver.
    Delivery = 1,
    /// Drop → reconnected and resumed with no gap (`storm`).
    Reconnect = 2,
}

const KINDS: usize = 3;

/// Counters every task bumps while the run goes.
#[derive(Default)]
pub struct Live {
    pub opened: AtomicU64,
    pub failed: AtomicU64,
    pub open_now: AtomicU64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub lost: AtomicU64,
    pub duplicated: AtomicU64,
    pub out_of_order: AtomicU64,
    /// Connections the server closed while the client wanted them open.
    pub dropped: AtomicU64,
    /// Events each staff socket should have received (`fanout`).
    pub expected_per_staff: AtomicU64,
    hist: Mutex<Hists>,
}

struct Hists {
    total: [Histogram<u64>; KINDS],
    second: [Histogram<u64>; KINDS],
}

impl Default for Hists {
    fn default() -> Self {
        Self {
            total: [histogram(), histogram(), histogram()],
            second: [histogram(), histogram(), histogram()],
        }
    }
}

/// One second of the run, as the timeline shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the run started.
    pub t: u64,
    pub open: u64,
    pub acked: u64,
    pub delivered: u64,
    pub ack: Pairs,
    pub delivery: Pairs,
}

impl Live {
    /// Records a latency in microseconds.
    pub fn record(&self, kind: Lat, us: u64) {
        let mut h = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        let _ = h.total[kind as usize].record(us.max(1));
        let _ = h.second[kind as usize].record(us.max(1));
    }

    /// Closes the current second: its counts so far and its histograms.
    pub fn tick(&self, t: u64) -> Tick {
        let mut h = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        let tick = Tick {
            t,
            open: self.open_now.load(Relaxed),
            acked: self.acked.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            ack: Pairs::of(&h.second[Lat::Ack as usize]),
            delivery: Pairs::of(&h.second[Lat::Delivery as usize]),
        };
        for s in &mut h.second {
            s.reset();
        }
        tick
    }

    /// Everything this process measured.
    pub fn snapshot(&self, timeline: Vec<Tick>) -> Raw {
        let h = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        let g = |c: &AtomicU64| c.load(Relaxed);
        Raw {
            opened: g(&self.opened),
            failed: g(&self.failed),
            sent: g(&self.sent),
            acked: g(&self.acked),
            delivered: g(&self.delivered),
            lost: g(&self.lost),
            duplicated: g(&self.duplicated),
            out_of_order: g(&self.out_of_order),
            dropped: g(&self.dropped),
            expected_per_staff: g(&self.expected_per_staff),
            ack: Pairs::of(&h.total[0]),
            delivery: Pairs::of(&h.total[1]),
            reconnect: Pairs::of(&h.total[2]),
            timeline,
        }
    }
}

/// A process's results, mergeable.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Raw {
    pub opened: u64,
    pub failed: u64,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub dropped: u64,
    pub expected_per_staff: u64,
    pub ack: Pairs,
    pub delivery: Pairs,
    pub reconnect: Pairs,
    /// Cumulative counts per second, with that second's latencies.
    pub timeline: Vec<Tick>,
}

/// One merged second: (t, open, acked, delivered, ack histogram, delivery histogram).
pub type Second = (u64, u64, u64, u64, Histogram<u64>, Histogram<u64>);

/// The merged result of every process.
pub struct Merged {
    pub raw: Raw,
    pub ack: Histogram<u64>,
    pub delivery: Histogram<u64>,
    pub reconnect: Histogram<u64>,
    /// Per second: (t, open, acked, delivered, ack histogram, delivery histogram).
    pub timeline: Vec<Second>,
}

/// Merges worker results. Timelines are aligned by second; cumulative
/// counts of a worker that reported no tick for a second carry forward.
pub fn merge(parts: &[Raw]) -> Merged {
    let mut raw = Raw::default();
    let (mut ack, mut delivery, mut reconnect) = (histogram(), histogram(), histogram());
    let seconds = parts.iter().map(|p| p.timeline.len()).max().unwrap_or(0);
    let mut timeline: Vec<_> = (0..seconds as u64)
        .map(|t| (t + 1, 0, 0, 0, histogram(), histogram()))
        .collect();
    for p in parts {
        raw.opened += p.opened;
        raw.failed += p.failed;
        raw.sent += p.sent;
        raw.acked += p.acked;
        raw.delivered += p.delivered;
        raw.lost += p.lost;
        raw.duplicated += p.duplicated;
        raw.out_of_order += p.out_of_order;
        raw.dropped += p.dropped;
        raw.expected_per_staff += p.expected_per_staff;
        p.ack.add_to(&mut ack);
        p.delivery.add_to(&mut delivery);
        p.reconnect.add_to(&mut reconnect);
        for (i, slot) in timeline.iter_mut().enumerate() {
            let Some(tick) = p.timeline.get(i).or(p.timeline.last()) else {
                continue;
            };
            slot.1 += tick.open;
            slot.2 += tick.acked;
            slot.3 += tick.delivered;
            if let Some(tick) = p.timeline.get(i) {
                tick.ack.add_to(&mut slot.4);
                tick.delivery.add_to(&mut slot.5);
            }
        }
    }
    Merged {
        raw,
        ack,
        delivery,
        reconnect,
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_histograms() {
        let a = Live::default();
        add(&a.acked, 3);
        a.record(Lat::Ack, 1000);
        a.record(Lat::Ack, 3000);
        let t1 = a.tick(1);
        let b = Live::default();
        add(&b.acked, 2);
        b.record(Lat::Ack, 2000);
        let t2 = b.tick(1);
        let m = merge(&[a.snapshot(vec![t1]), b.snapshot(vec![t2])]);
        assert_eq!(m.raw.acked, 5);
        assert_eq!(m.ack.len(), 3);
        assert_eq!(m.timeline.len(), 1);
        assert_eq!(m.timeline[0].2, 5);
        assert_eq!(m.timeline[0].4.len(), 3);
        let p50 = m.ack.value_at_quantile(0.5);
        assert!((1995..=2005).contains(&p50), "{p50}");
    }
}
