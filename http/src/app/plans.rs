//! Plans, quotas and payments: the plan a tenant is on (from its
//! subscription), the checks made where the work happens (a site, a staff
//! seat, a feature), usage, the operator setting a plan, and the payment
//! provider's signed webhooks (Stripe-compatible), each event handled once
//! and in order by the tenant's Billing actor.
//! Every plan change is audited.

use super::principal::{Authed, Caller, Operator};
use super::ApiError;
use crate::state::App;
use axum::http::StatusCode;
use parley_actors::billing::{BillingMsg, Handled};
use parley_actors::{ask, ActorError};
use parley_engine::account::AuditActor;
use parley_engine::account::AuditRecord;
use parley_engine::billing::{EventKind, ProviderEvent};
use parley_engine::codes::error as code;
use parley_engine::plans::{month_start, room, Plan, Refusal};
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use ractor::ActorRef;
use serde_json::{json, Value};
use std::time::Duration;

/// The plan named `name` (the free plan when there is none by that name).
pub fn named<'a>(app: &'a App, name: &str) -> &'a Plan {
    app.plans
        .iter()
        .find(|p| p.name == name)
        .unwrap_or(&app.plans[0])
}

/// The plan every workspace is on while billing is off: everything,
/// unlimited, kept forever.
fn unlimited() -> &'static Plan {
    static PLAN: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| Plan {
        name: "unlimited".into(),
        sites: None,
        staff: None,
        conversations_per_month: None,
        retention_days: None,
        features: parley_engine::plans::FEATURES
            .iter()
            .map(|f| f.to_string())
            .collect(),
        price_cents: 0,
    })
}

/// The plan tenant `t` is on now (billing off: [`unlimited`]).
pub fn plan_of(app: &App, t: TenantId) -> Result<&Plan, ApiError> {
    if !app.config.billing_on() {
        return Ok(unlimited());
    }
    let sub = app.store.subscription(t)?;
    Ok(named(app, sub.plan_at(Timestamp::now())))
}

/// "1 site", "5 sites", "1 staff seat": `what` is plural (its first word
/// ending in "s" is the noun).
fn count(n: u32, what: &str) -> String {
    if n != 1 {
        return format!("{n} {what}");
    }
    let mut done = false;
    let words = what.split(' ').map(|w| match w.strip_suffix('s') {
        Some(one) if !done => {
            done = true;
            one
        }
        _ => w,
    });
    format!("1 {}", words.collect::<Vec<_>>().join(" "))
}

/// The cheapest plan that lifts a refusal, for the message.
fn unlocks<'a>(app: &'a App, r: &Refusal) -> Option<&'a Plan> {
    app.plans.iter().find(|p| match r {
        Refusal::Quota(what, n) => {
            let limit = match *what {
                "sites" => p.sites,
                "staff seats" => p.staff,
                _ => p.conversations_per_month,
            };
            limit.is_none_or(|l| l > *n)
        }
        Refusal::Feature(f) => p.has(f),
    })
}

fn title(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn refused(app: &App, r: Refusal) -> ApiError {
    let hint = match unlocks(app, &r) {
        Some(p) => format!(" Upgrade to {} to get more.", title(&p.name)),
        None => String::new(),
    };
    match r {
        Refusal::Quota(what, n) => ApiError::new(
            StatusCode::FORBIDDEN,
            code::QUOTA_EXCEEDED,
            format!("Your plan allows {}.{hint}", count(n, what)),
        ),
        Refusal::Feature(f) => ApiError::new(
            StatusCode::FORBIDDEN,
            code::FEATURE_NOT_IN_PLAN,
            format!(
                "Your plan does not include {}.{}",
                f.replace('_', " "),
                hint.replace(" to get more", " for it")
            ),
        ),
    }
}

/// 403 `feature_not_in_plan` unless tenant `t`'s plan has `feature`.
pub fn require_feature(app: &App, t: TenantId, feature: &str) -> Result<(), ApiError> {
    if plan_of(app, t)?.has(feature) {
        Ok(())
    } else {
        Err(refused(app, Refusal::Feature(feature.into())))
    }
}

/// What tenant `t` uses of its plan.
pub struct Usage {
    pub sites: u64,
    pub staff: u64,
    pub conversations_this_month: u64,
}

pub fn usage(app: &App, t: TenantId) -> Result<Usage, ApiError> {
    Ok(Usage {
        sites: app.store.sites(t)?.len() as u64,
        staff: app
            .store
            .staff_list(t)?
            .iter()
            .filter(|s| s.holds_seat())
            .count() as u64,
        conversations_this_month: app
            .store
            .conversations_since(t, month_start(Timestamp::now()))?,
    })
}

/// 403 `quota_exceeded` unless tenant `t` may add one more site.
pub fn room_for_site(app: &App, t: TenantId) -> Result<(), ApiError> {
    let plan = plan_of(app, t)?;
    room("sites", usage(app, t)?.sites, plan.sites).map_err(|r| refused(app, r))
}

/// 403 `quota_exceeded` unless tenant `t` has a staff seat for one more
/// member: one not counted yet, or `member`, who may hold a seat already (an
/// invitation being accepted) and still find the plan full (it shrank since).
/// Pending invitations hold seats. The caller holds the tenant's lock, so two
/// checks never both take the last seat.
pub fn room_for_staff(app: &App, t: TenantId, member: Option<StaffId>) -> Result<(), ApiError> {
    let plan = plan_of(app, t)?;
    let others = app
        .store
        .staff_list(t)?
        .iter()
        .filter(|s| s.holds_seat() && Some(s.id) != member)
        .count() as u64;
    room("staff seats", others, plan.staff).map_err(|r| refused(app, r))
}

fn limit(v: Option<u32>) -> Value {
    v.map_or(Value::Null, |n| json!(n))
}

/// A plan as JSON (`null` limits are unlimited).
pub fn plan_json(p: &Plan) -> Value {
    json!({
        "name": p.name, "sites": limit(p.sites), "staff": limit(p.staff),
        "conversations_per_month": limit(p.conversations_per_month),
        "retention_days": limit(p.retention_days), "features": p.features,
        "price_cents": p.price_cents,
    })
}

/// What `GET /tenant` adds: `plan`, `usage`, `limits`, `billing`
/// (`billing.enabled` false: plans do not apply, the plan is `unlimited`;
/// `billing.checkout`: a checkout page is configured).
pub fn tenant_json(app: &App, t: TenantId) -> Result<Value, ApiError> {
    let sub = app.store.subscription(t)?;
    let plan = plan_of(app, t)?;
    let u = usage(app, t)?;
    Ok(json!({
        "plan": plan.name,
        "usage": {"sites": u.sites, "staff": u.staff, "conversations_this_month": u.conversations_this_month},
        "limits": plan_json(plan),
        "billing": {"enabled": app.config.billing_on(),
            "checkout": app.config.billing.checkout_url_template.is_some(), "status": sub.status, "period_end": sub.period_end, "next_plan": sub.next_plan,
            "grace_until": sub.grace_until},
    }))
}

/// Tenant `t`'s Billing actor (the one writer of its subscription); on a
/// cluster node that does not own `t` now, 503 `unavailable` with
/// `Retry-After` (a provider retries; an operator tries again).
async fn billing(app: &App, t: TenantId) -> Result<ActorRef<BillingMsg>, ApiError> {
    app.system.billing(t).await.map_err(actor_error)
}

fn actor_error(e: ActorError) -> ApiError {
    match e {
        ActorError::NotOwner | ActorError::Timeout => ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::UNAVAILABLE,
                "the tenant is busy or moving between nodes; try again",
            )
        },
        e => ApiError::internal(e),
    }
}

fn storage_refused(e: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        code::UNAVAILABLE,
        format!("storage refuses writes: {e}"),
    )
}

/// The audit record of a plan change, before the Billing actor says what
/// changed.
fn plan_audit(t: TenantId, actor: AuditActor, caller: &Caller) -> AuditRecord {
    super::audit::entry(
        t,
        actor,
        caller,
        "tenant.plan",
        ("tenant", t.to_string()),
        json!({}),
    )
}

/// The operator puts a tenant on a plan (at once, whatever it paid).
pub async fn set_plan(
    app: &App,
    op: &Operator,
    t: TenantId,
    plan: &str,
) -> Result<Value, ApiError> {
    if !app.plans.iter().any(|p| p.name == plan) {
        return Err(ApiError::bad_request(
            code::INVALID,
            format!("no plan {plan:?}; plans are {}", names(app)),
        ));
    }
    if app.store.tenant(t)?.is_none() {
        return Err(ApiError::not_found("tenant"));
    }
    let actor = billing(app, t).await?;
    let audit = Box::new(plan_audit(t, op.actor(), &op.caller));
    let plan = plan.to_string();
    ask(&actor, app.system.ctx.cfg.call_timeout, |reply| {
        BillingMsg::SetPlan { plan, audit, reply }
    })
    .await
    .map_err(actor_error)?
    .map_err(storage_refused)?;
    changed(app, t).await;
    tenant_json(app, t)
}

/// Tells the tenant's actors its plan changed.
async fn changed(app: &App, t: TenantId) {
    crate::ws::tell(app, t, parley_actors::Tell::PlanChanged).await;
}

fn names(app: &App) -> String {
    app.plans
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The checkout page for `plan` (from `billing.checkout_url_template`).
pub fn checkout(app: &App, me: &Authed, plan: &str) -> Result<String, ApiError> {
    me.require(parley_engine::permissions::Action::ManageTenant)?;
    if !app
        .plans
        .iter()
        .any(|p| p.name == plan && p.price_cents > 0)
    {
        return Err(ApiError::bad_request(
            code::INVALID,
            format!("no paid plan {plan:?}"),
        ));
    }
    let Some(t) = &app.config.billing.checkout_url_template else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::UNAVAILABLE,
            "Online payment is not set up on this instance (billing.checkout_url_template); ask its operator to change your plan.",
        ));
    };
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    Ok(t.replace("{tenant_id}", &me.tenant().to_string())
        .replace("{plan}", &enc(plan))
        .replace("{email}", &enc(&me.staff.email)))
}

/// Checks a `Stripe-Signature` header (`t=UNIX,v1=HEX[,v1=HEX…]`) over
/// `body`: an HMAC-SHA256 of `"{t}.{body}"` with `secret`, `t` within
/// five minutes of `now`.
pub fn signature_ok(secret: &str, header: &str, body: &[u8], now: Timestamp) -> bool {
    use hmac::{Hmac, Mac};
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let now = now.millis() / 1000;
    if now.abs_diff(t) > 300 {
        return false;
    }
    sigs.iter().any(|hex| {
        let Some(want) = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()
        else {
            return false;
        };
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        hex.len() == 64 && mac.verify_slice(&want).is_ok()
    })
}

fn billing_actor() -> AuditActor {
    AuditActor {
        kind: "billing".into(),
        id: None,
        email: None,
    }
}

/// Reads what Parley acts on from a provider event's `data.object`.
fn provider_event(
    app: &App,
    id: &str,
    kind: EventKind,
    event: &Value,
) -> Result<ProviderEvent, ApiError> {
    let obj = &event["data"]["object"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let plan = obj["metadata"]["plan"].as_str();
    if let Some(p) = plan {
        if !app.plans.iter().any(|x| x.name == p) {
            return Err(ApiError::bad_request(
                code::BAD_REQUEST,
                format!("no plan {p:?}; plans are {}", names(app)),
            ));
        }
    }
    Ok(ProviderEvent {
        id: id.to_string(),
        kind,
        created: event["created"].as_u64().map(|s| Timestamp(s * 1000)),
        // A checkout names the subscription it started; a subscription
        // event is the subscription.
        subscription: match kind {
            EventKind::CheckoutCompleted => text(&obj["subscription"]),
            _ => text(&obj["id"]),
        },
        customer: text(&obj["customer"]),
        plan: plan.map(str::to_string),
        status: obj["status"].as_str().map(str::to_string),
        period_end: obj["current_period_end"]
            .as_u64()
            .map(|s| Timestamp(s * 1000)),
        cancel_at_period_end: obj["cancel_at_period_end"].as_bool() == Some(true),
    })
}

/// Handles one provider event (signature already checked): the tenant's
/// Billing actor applies it once and in order, marking its id seen in the
/// same write. A repeated event id changes nothing; an event older than
/// the last one applied, or about a deleted or replaced subscription, is
/// answered 200 and ignored.
pub async fn webhook(app: &App, caller: &Caller, event: Value) -> Result<Value, ApiError> {
    let bad = |m: &str| ApiError::bad_request(code::BAD_REQUEST, m.to_string());
    let id = event["id"]
        .as_str()
        .ok_or_else(|| bad("the event has no id"))?;
    let kind = event["type"]
        .as_str()
        .ok_or_else(|| bad("the event has no type"))?;
    if app.store.billing_event_seen(id)? {
        return Ok(json!({"received": true, "duplicate": true}));
    }
    let obj = &event["data"]["object"];
    let tenant = match kind {
        "checkout.session.completed" => obj["client_reference_id"].as_str(),
        _ => obj["metadata"]["tenant_id"].as_str(),
    };
    let t = tenant.and_then(|t| t.parse::<TenantId>().ok());
    let ignore = || async {
        // Nothing to apply: marking it seen twice does no harm.
        let mut b = WriteBatch::new();
        app.store.put_billing_event(&mut b, id, Timestamp::now());
        app.writer.write(b).await?;
        Ok::<_, ApiError>(json!({"received": true, "ignored": true}))
    };
    let (Some(t), Some(k)) = (t, EventKind::parse(kind)) else {
        tracing::info!(event = %id, kind, "billing event ignored");
        return ignore().await;
    };
    if app.store.tenant(t)?.is_none() {
        tracing::warn!(event = %id, tenant = %t, "billing event for an unknown tenant");
        return ignore().await;
    }
    let ev = Box::new(provider_event(app, id, k, &event)?);
    let actor = billing(app, t).await?;
    let audit = Box::new(plan_audit(t, billing_actor(), caller));
    let grace = Duration::from_secs(u64::from(app.config.billing.grace_days) * 86_400);
    let handled = ask(&actor, app.system.ctx.cfg.call_timeout, |reply| {
        BillingMsg::Event {
            event: ev,
            grace,
            audit,
            reply,
        }
    })
    .await
    .map_err(actor_error)?
    .map_err(storage_refused)?;
    Ok(match handled {
        Handled::Applied(sub) => {
            changed(app, t).await;
            tracing::info!(event = %id, kind, tenant = %t, plan = %sub.plan, "billing event handled");
            json!({"received": true})
        }
        Handled::Duplicate => json!({"received": true, "duplicate": true}),
        Handled::Skipped(why) => {
            tracing::info!(event = %id, kind, tenant = %t, why = why.as_str(), "billing event out of order: ignored");
            json!({"received": true, "ignored": true, "reason": why.as_str()})
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_a_person_writes_them() {
        assert_eq!(count(1, "sites"), "1 site");
        assert_eq!(count(5, "sites"), "5 sites");
        assert_eq!(count(1, "staff seats"), "1 staff seat");
        assert_eq!(count(2, "staff seats"), "2 staff seats");
        assert_eq!(
            count(1, "conversations this month"),
            "1 conversation this month"
        );
        assert_eq!(count(0, "sites"), "0 sites");
        assert_eq!(title("pro"), "Pro");
    }
}
