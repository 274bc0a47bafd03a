//! The tenant itself: its name (owners only) and, for the instance
//! operator, suspension (its staff are signed out, its widget offline).

use super::principal::{Authed, Operator};
use super::ApiError;
use crate::state::App;
use parley_engine::account::TenantState;
use parley_engine::permissions::Action;
use parley_engine::records::TenantRecord;
use parley_engine::{TenantId, Timestamp};
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

/// `PATCH /tenant` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    name: Option<String>,
}

/// Renames the tenant; answers it as it now is.
pub async fn update(app: &App, me: &Authed, body: TenantPatch) -> Result<TenantRecord, ApiError> {
    me.require(Action::ManageTenant)?;
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut t = app
        .store
        .tenant(me.tenant())?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    if let Some(n) = &body.name {
        let before = std::mem::replace(&mut t.name, parley_engine::validate::name(n)?);
        let mut b = WriteBatch::new();
        app.store.put_tenant(&mut b, &t);
        me.audit(
            app,
            &mut b,
            "tenant.update",
            ("tenant", t.id.to_string()),
            json!({"name": [before, t.name]}),
        );
        app.writer.write(b).await?;
    }
    Ok(t)
}

/// Suspends or resumes a tenant (the operator's call), audited in its log.
pub async fn set_suspended(
    app: &App,
    op: &Operator,
    id: &str,
    suspended: bool,
) -> Result<TenantRecord, ApiError> {
    let id: TenantId = id.parse().map_err(|_| ApiError::not_found("tenant"))?;
    let tenant = app
        .store
        .tenant(id)?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let state = TenantState {
        suspended,
        changed_at: Some(Timestamp::now()),
    };
    let mut b = WriteBatch::new();
    app.store.put_tenant_state(&mut b, id, &state);
    super::audit::add(
        app,
        &mut b,
        id,
        op.actor(),
        &op.caller,
        if suspended {
            "tenant.suspend"
        } else {
            "tenant.resume"
        },
        ("tenant", id.to_string()),
        json!({"suspended": suspended}),
    );
    app.writer.write(b).await?;
    let what = match suspended {
        true => parley_actors::Tell::Suspend,
        false => parley_actors::Tell::Resume,
    };
    crate::ws::tell(app, id, what).await;
    tracing::info!(tenant = %id, suspended, "tenant state changed");
    Ok(tenant)
}
