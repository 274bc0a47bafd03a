//! Daily rollups of a site's buckets, kept by the writer beside the hourly
//! ones so a long range reads one record a day instead of 24 (a year of a
//! busy site: 365 records, not 8,760 buckets each carrying its top lists).
//! A day keeps its whole top lists once and each hour's counters without
//! them, so a series or heatmap in any time zone is still drawn by hour.

use super::{Bucket, Event};
use serde::{Deserialize, Serialize};

/// Hours in a [`Day`].
pub const DAY_HOURS: u32 = 24;

/// The first hour of the UTC day `h` falls in: a day rollup's key.
pub fn day_of(h: u32) -> u32 {
    h - h % DAY_HOURS
}

/// One site's UTC day: every count of its hours, top lists included, and
/// each hour's counters and histograms (top lists left empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// The whole day, as one bucket.
    pub all: Bucket,
    /// Hour by hour from the day's start: [`DAY_HOURS`] of them, or none
    /// before the first count.
    pub hours: Vec<Bucket>,
}

impl Day {
    /// The rollup of the hourly buckets `hours` (by hour since the epoch)
    /// of the day starting at hour `start`; hours outside it are left out.
    pub fn from_hours<'a>(start: u32, hours: impl IntoIterator<Item = (u32, &'a Bucket)>) -> Self {
        let mut d = Day::default();
        for (h, b) in hours {
            if let Some(slot) = d.slot(start, h) {
                slot.merge_counts(b);
                d.all.merge(b);
            }
        }
        d
    }

    fn slot(&mut self, start: u32, h: u32) -> Option<&mut Bucket> {
        let i = h.checked_sub(start).filter(|i| *i < DAY_HOURS)? as usize;
        if self.hours.is_empty() {
            self.hours = vec![Bucket::default(); DAY_HOURS as usize];
        }
        self.hours.get_mut(i)
    }

    /// Counts `e`, which happened in hour `h` of the day starting at `start`
    /// (as the hourly bucket of `h` counts it); an hour outside the day is
    /// ignored.
    pub fn apply(&mut self, start: u32, h: u32, e: &Event) {
        if let Some(slot) = self.slot(start, h) {
            slot.apply_counts(e);
            self.all.apply(e);
        }
    }

    /// Each hour's counters by hour since the epoch, for the day at `start`.
    pub fn by_hour(&self, start: u32) -> impl Iterator<Item = (u32, &Bucket)> {
        self.hours
            .iter()
            .enumerate()
            .map(move |(i, b)| (start + i as u32, b))
    }
}
