//! The payment provider's events and the order they apply in. A provider
//! delivers at least once and in no particular order: a retry of an old
//! `customer.subscription.updated` can arrive after the subscription was
//! deleted. So each tenant keeps the time of the last event applied and
//! which subscription it follows ([`BillingOrder`]); an older event, or an
//! update of a subscription that ended or was replaced, changes nothing.
//! [`decide`] is the whole rule; the tenant's Billing actor applies it.

use crate::plans::{BillingStatus, Plan, Subscription};
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The provider's event kinds Parley acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `checkout.session.completed`: a paid checkout starts a subscription.
    CheckoutCompleted,
    /// `customer.subscription.updated`.
    SubscriptionUpdated,
    /// `customer.subscription.deleted`.
    SubscriptionDeleted,
}

impl EventKind {
    /// The kind named `name` by the provider, if Parley acts on it.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "checkout.session.completed" => Some(Self::CheckoutCompleted),
            "customer.subscription.updated" => Some(Self::SubscriptionUpdated),
            "customer.subscription.deleted" => Some(Self::SubscriptionDeleted),
            _ => None,
        }
    }
}

/// One provider event, as the edge read it from the signed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's event id (`evt_…`): handled once.
    pub id: String,
    pub kind: EventKind,
    /// When the provider made the event (its `created`), not when it was
    /// delivered: a retry keeps it. `None`: the event cannot be ordered.
    pub created: Option<Timestamp>,
    /// The subscription the event is about (`sub_…`); empty when the event
    /// does not say (then it is about the tenant's current one).
    pub subscription: String,
    pub customer: String,
    /// `metadata.plan`, already checked to name a configured plan.
    pub plan: Option<String>,
    /// The subscription's `status` (updates).
    pub status: Option<String>,
    /// `current_period_end` (updates).
    pub period_end: Option<Timestamp>,
    /// `cancel_at_period_end` (updates).
    pub cancel_at_period_end: bool,
}

/// What a tenant remembers to apply its provider events in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingOrder {
    /// The `created` time of the newest event applied.
    pub last_event_at: Option<Timestamp>,
    /// The subscription the tenant follows (empty: none known yet).
    pub subscription: String,
    /// That subscription was deleted: its later updates change nothing.
    pub ended: bool,
}

/// Why an event was not applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Older than the last event applied (a retry or a late delivery).
    Older,
    /// About a subscription that was deleted.
    Ended,
    /// About another subscription than the one the tenant follows now.
    NotCurrent,
}

impl Skip {
    /// A short reason, for logs and the webhook's answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Older => "older_than_last_applied",
            Skip::Ended => "subscription_deleted",
            Skip::NotCurrent => "not_the_current_subscription",
        }
    }
}

/// What applying an event makes of a tenant's subscription and order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub subscription: Subscription,
    pub order: BillingOrder,
}

/// Whether `ev` applies to a tenant whose subscription is `sub` and whose
/// order is `order`, and what it makes of both. `plans` prices up- and
/// downgrades; `grace` is how long a late payment keeps the plan from `now`.
pub fn decide(
    sub: &Subscription,
    order: &BillingOrder,
    ev: &ProviderEvent,
    plans: &[Plan],
    now: Timestamp,
    grace: Duration,
) -> Result<Applied, Skip> {
    if let (Some(at), Some(last)) = (ev.created, order.last_event_at) {
        if at < last {
            return Err(Skip::Older);
        }
    }
    let about = if ev.subscription.is_empty() {
        order.subscription.as_str()
    } else {
        ev.subscription.as_str()
    };
    let same = !about.is_empty() && about == order.subscription;
    if same && order.ended {
        return Err(Skip::Ended);
    }
    let mut next = BillingOrder {
        last_event_at: ev.created.max(order.last_event_at),
        ..order.clone()
    };
    let mut new = sub.clone();
    match ev.kind {
        EventKind::CheckoutCompleted => {
            if !ev.subscription.is_empty() {
                next.subscription = ev.subscription.clone();
                next.ended = false;
            }
            new.plan = ev.plan.clone().unwrap_or_else(|| sub.plan.clone());
            new.status = BillingStatus::Active;
            new.next_plan = None;
            new.grace_until = None;
            new.customer = ev.customer.clone();
            new.subscription = ev.subscription.clone();
        }
        EventKind::SubscriptionUpdated | EventKind::SubscriptionDeleted => {
            if !about.is_empty() && !order.subscription.is_empty() && !same {
                return Err(Skip::NotCurrent);
            }
            if next.subscription.is_empty() {
                next.subscription = about.to_string();
            }
            if ev.kind == EventKind::SubscriptionDeleted {
                next.ended = true;
                cancel(&mut new);
            } else {
                update(&mut new, ev, plans, now, grace);
            }
        }
    }
    new.updated_at = Some(now);
    Ok(Applied {
        subscription: new,
        order: next,
    })
}

fn cancel(s: &mut Subscription) {
    s.status = BillingStatus::Canceled;
    s.plan = "free".into();
    s.next_plan = None;
    s.grace_until = None;
}

fn price(plans: &[Plan], name: &str) -> u32 {
    plans
        .iter()
        .find(|p| p.name == name)
        .or(plans.first())
        .map_or(0, |p| p.price_cents)
}

fn update(
    s: &mut Subscription,
    ev: &ProviderEvent,
    plans: &[Plan],
    now: Timestamp,
    grace: Duration,
) {
    s.period_end = ev.period_end;
    match ev.status.as_deref() {
        Some("past_due") => {
            s.status = BillingStatus::PastDue;
            if s.grace_until.is_none() {
                s.grace_until = Some(now.after(grace));
            }
        }
        Some("canceled") | Some("unpaid") | Some("incomplete_expired") => {
            cancel(s);
            return;
        }
        _ => {
            s.status = BillingStatus::Active;
            s.grace_until = None;
        }
    }
    if let Some(p) = &ev.plan {
        // An upgrade applies now; a downgrade when the period ends.
        if price(plans, p) >= price(plans, &s.plan) {
            s.plan = p.clone();
            s.next_plan = None;
        } else {
            s.next_plan = Some(p.clone());
        }
    }
    if ev.cancel_at_period_end {
        s.next_plan = Some("free".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::builtin;

    fn ev(kind: EventKind, at: u64, sub: &str, plan: Option<&str>) -> ProviderEvent {
        ProviderEvent {
            id: format!("evt_{at}"),
            kind,
            created: Some(Timestamp(at * 1000)),
            subscription: sub.into(),
            customer: "cus_1".into(),
            plan: plan.map(str::to_string),
            status: Some("active".into()),
            period_end: None,
            cancel_at_period_end: false,
        }
    }

    /// Applies `events` in turn from a new tenant; the skips on the way.
    fn run(events: &[ProviderEvent]) -> (Subscription, Vec<Option<Skip>>) {
        let (mut sub, mut order) = (Subscription::default(), BillingOrder::default());
        let mut skips = Vec::new();
        for e in events {
            let now = Timestamp(1_000_000);
            match decide(&sub, &order, e, &builtin(), now, Duration::from_secs(60)) {
                Ok(a) => {
                    (sub, order) = (a.subscription, a.order);
                    skips.push(None);
                }
                Err(s) => skips.push(Some(s)),
            }
        }
        (sub, skips)
    }

    use EventKind::*;

    #[test]
    fn an_older_update_after_a_deletion_leaves_the_tenant_on_free() {
        let (sub, skips) = run(&[
            ev(CheckoutCompleted, 100, "sub_1", Some("pro")),
            ev(SubscriptionDeleted, 300, "sub_1", None),
            ev(SubscriptionUpdated, 200, "sub_1", Some("pro")),
        ]);
        assert_eq!(sub.plan_at(Timestamp(0)), "free");
        assert_eq!(skips, [None, None, Some(Skip::Older)]);
    }

    #[test]
    fn an_update_of_a_deleted_subscription_changes_nothing_however_late() {
        let (sub, skips) = run(&[
            ev(CheckoutCompleted, 100, "sub_1", Some("pro")),
            ev(SubscriptionDeleted, 300, "sub_1", None),
            ev(SubscriptionUpdated, 400, "sub_1", Some("business")),
            ev(SubscriptionUpdated, 500, "", Some("business")),
        ]);
        assert_eq!(sub.plan, "free");
        assert_eq!(skips[2..], [Some(Skip::Ended), Some(Skip::Ended)]);
    }

    #[test]
    fn a_new_checkout_follows_the_new_subscription_only() {
        let (sub, skips) = run(&[
            ev(CheckoutCompleted, 100, "sub_1", Some("pro")),
            ev(SubscriptionDeleted, 200, "sub_1", None),
            ev(CheckoutCompleted, 300, "sub_2", Some("business")),
            // The old subscription's news no longer moves the plan.
            ev(SubscriptionDeleted, 400, "sub_1", None),
            ev(SubscriptionUpdated, 500, "sub_3", Some("pro")),
        ]);
        assert_eq!(sub.plan, "business");
        assert_eq!(sub.subscription, "sub_2");
        assert_eq!(skips[3..], [Some(Skip::NotCurrent), Some(Skip::NotCurrent)]);
    }

    #[test]
    fn in_order_events_apply_and_unordered_ones_are_taken_as_they_come() {
        let mut down = ev(SubscriptionUpdated, 200, "sub_1", Some("pro"));
        down.period_end = Some(Timestamp(9_000_000));
        let (sub, skips) = run(&[
            ev(CheckoutCompleted, 100, "sub_1", Some("business")),
            down,
            // Same second as the last one applied: not older.
            ev(SubscriptionUpdated, 200, "sub_1", None),
        ]);
        assert_eq!(skips, [None, None, None]);
        assert_eq!(
            (sub.plan.as_str(), sub.next_plan.as_deref()),
            ("business", Some("pro"))
        );
        let mut undated = ev(SubscriptionDeleted, 0, "", None);
        undated.created = None;
        let (sub, skips) = run(&[ev(CheckoutCompleted, 100, "sub_1", Some("pro")), undated]);
        assert_eq!((sub.plan.as_str(), skips[1]), ("free", None));
    }
}
