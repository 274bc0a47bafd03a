//! Plans and quotas: what each plan allows (sites, staff seats,
//! conversations a month, history kept, features) and a tenant's
//! subscription to one (status, period end, a downgrade waiting for it,
//! a grace period while a payment is late). Pure rules; the Tenant's
//! actors and the application layer enforce them where the work happens.

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// Something a plan may or may not include.
pub const FEATURES: [&str; 4] = [
    "identity_verification",
    "webhooks",
    "transcripts",
    "campaigns",
];

/// What a plan allows. `None` limits are unlimited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub sites: Option<u32>,
    pub staff: Option<u32>,
    pub conversations_per_month: Option<u32>,
    pub retention_days: Option<u32>,
    pub features: Vec<String>,
    /// Per month.
    pub price_cents: u32,
}

impl Plan {
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// The built-in plans, cheapest first.
pub fn builtin() -> Vec<Plan> {
    let all = FEATURES.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    vec![
        Plan {
            name: "free".into(),
            sites: Some(1),
            staff: Some(2),
            conversations_per_month: Some(100),
            retention_days: Some(30),
            features: vec!["transcripts".into()],
            price_cents: 0,
        },
        Plan {
            name: "pro".into(),
            sites: Some(5),
            staff: Some(10),
            conversations_per_month: Some(5_000),
            retention_days: Some(365),
            features: vec![
                "identity_verification".into(),
                "transcripts".into(),
                "webhooks".into(),
            ],
            price_cents: 2_900,
        },
        Plan {
            name: "business".into(),
            sites: None,
            staff: None,
            conversations_per_month: None,
            retention_days: Some(3 * 365),
            features: all,
            price_cents: 9_900,
        },
    ]
}

/// Where a tenant's subscription is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingStatus {
    #[default]
    Active,
    /// A payment failed; the plan holds until the grace period ends.
    PastDue,
    Canceled,
}

/// A tenant's plan and subscription.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The plan in force (`free` when never set).
    pub plan: String,
    pub status: BillingStatus,
    /// When the paid period ends (the provider's `current_period_end`).
    pub period_end: Option<Timestamp>,
    /// A plan to move to when the period ends (a downgrade or a cancel).
    pub next_plan: Option<String>,
    /// When a late payment's grace period ends.
    pub grace_until: Option<Timestamp>,
    /// The provider's customer and subscription ids, as it sent them.
    pub customer: String,
    pub subscription: String,
    pub updated_at: Option<Timestamp>,
}

impl Subscription {
    /// The plan name in force at `now`: a waiting downgrade applies once the
    /// period ended, a late payment once its grace ended.
    pub fn plan_at(&self, now: Timestamp) -> &str {
        if self.status == BillingStatus::PastDue && self.grace_until.is_some_and(|g| now >= g) {
            return "free";
        }
        if let (Some(next), Some(end)) = (&self.next_plan, self.period_end) {
            if now >= end {
                return next;
            }
        }
        if self.plan.is_empty() {
            "free"
        } else {
            &self.plan
        }
    }
}

/// Why a quota refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A limit reached: what, and the plan's number.
    Quota(&'static str, u32),
    Feature(String),
}

/// Whether one more of `what` (having `used` now) fits `limit`.
pub fn room(what: &'static str, used: u64, limit: Option<u32>) -> Result<(), Refusal> {
    match limit {
        Some(l) if used >= u64::from(l) => Err(Refusal::Quota(what, l)),
        _ => Ok(()),
    }
}

/// The calendar month (UTC) of `t`, as `YYYYMM`.
pub fn month(t: Timestamp) -> u32 {
    let days = (t.millis() / 86_400_000) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y * 100 + m) as u32
}

/// The first moment of `t`'s calendar month (UTC).
pub fn month_start(t: Timestamp) -> Timestamp {
    let m = month(t);
    jiff::civil::date((m / 100) as i16, (m % 100) as i8, 1)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|z| Timestamp(z.timestamp().as_millisecond().max(0) as u64))
        .unwrap_or(t)
}

/// Whether a tenant on `plans` (by `plan` name; none configured: no
/// limits) may start one more conversation this month, having `used`.
pub fn may_start(plans: &[Plan], plan: &str, used: u64) -> bool {
    let limit = plans
        .iter()
        .find(|p| p.name == plan)
        .or(plans.first())
        .and_then(|p| p.conversations_per_month);
    room("conversations this month", used, limit).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downgrades_wait_for_the_period_and_late_payments_for_grace() {
        let mut s = Subscription {
            plan: "pro".into(),
            period_end: Some(Timestamp(1000)),
            next_plan: Some("free".into()),
            ..Default::default()
        };
        assert_eq!(s.plan_at(Timestamp(999)), "pro");
        assert_eq!(s.plan_at(Timestamp(1000)), "free");
        s.next_plan = None;
        s.status = BillingStatus::PastDue;
        s.grace_until = Some(Timestamp(5000));
        assert_eq!(s.plan_at(Timestamp(4999)), "pro");
        assert_eq!(s.plan_at(Timestamp(5000)), "free");
        assert_eq!(Subscription::default().plan_at(Timestamp(0)), "free");
    }

    #[test]
    fn quotas_and_months() {
        assert!(room("sites", 0, Some(1)).is_ok());
        assert_eq!(room("sites", 1, Some(1)), Err(Refusal::Quota("sites", 1)));
        assert!(room("sites", 1000, None).is_ok());
        assert_eq!(
            month(Timestamp::parse_rfc3339("2026-12-01T10:00:00Z").unwrap()),
            202612
        );
        assert_eq!(
            month(Timestamp::parse_rfc3339("2024-02-29T23:59:59Z").unwrap()),
            202402
        );
        assert_eq!(month(Timestamp(0)), 197001);
        let plans = builtin();
        assert!(!plans[0].has("webhooks") && plans[2].has("campaigns"));
        assert_eq!(
            month_start(Timestamp::parse_rfc3339("2026-12-17T10:00:00Z").unwrap()),
            Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap()
        );
        assert!(may_start(&plans, "free", 99) && !may_start(&plans, "free", 100));
        assert!(may_start(&plans, "business", 1_000_000));
        assert!(may_start(&[], "free", 1_000_000), "no plans: no limits");
    }
}
