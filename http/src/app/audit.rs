//! The audit log's writing side: every mutating action becomes an
//! append-only record in the same batch as the change it describes.

use super::principal::Caller;
use super::ApiError;
use crate::state::App;
use parley_engine::account::{AuditActor, AuditRecord};
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AuthStore, WriteBatch};
use serde_json::Value;

/// Builds an audit record: `entity` is its type and id.
pub fn entry(
    tenant: TenantId,
    actor: AuditActor,
    caller: &Caller,
    action: &str,
    entity: (&str, String),
    changes: Value,
) -> AuditRecord {
    AuditRecord {
        id: AuditId::new(),
        tenant_id: tenant,
        actor,
        action: action.into(),
        entity_type: entity.0.into(),
        entity_id: Some(entity.1),
        changes: changes.to_string(),
        ip: caller.ip.to_string(),
        user_agent: caller.user_agent.clone(),
        at: Timestamp::now(),
    }
}

/// Adds an audit record to `batch`, to land with the change it describes.
#[allow(clippy::too_many_arguments)]
pub fn add(
    app: &App,
    batch: &mut WriteBatch,
    tenant: TenantId,
    actor: AuditActor,
    caller: &Caller,
    action: &str,
    entity: (&str, String),
    changes: Value,
) {
    let rec = entry(tenant, actor, caller, action, entity, changes);
    app.store.append_audit(batch, &rec);
}

/// Adds an audit record of `staff`'s own action to `batch`.
pub fn by(
    app: &App,
    batch: &mut WriteBatch,
    staff: &StaffRecord,
    caller: &Caller,
    action: &str,
    entity: (&str, String),
) {
    let actor = super::principal::staff_actor(staff);
    add(
        app,
        batch,
        staff.tenant_id,
        actor,
        caller,
        action,
        entity,
        Value::Object(Default::default()),
    );
}

/// Writes a lone audit record (an action with nothing else to write).
pub async fn write(
    app: &App,
    tenant: TenantId,
    actor: AuditActor,
    caller: &Caller,
    action: &str,
    entity: (&str, String),
    changes: Value,
) -> Result<(), ApiError> {
    let mut b = WriteBatch::new();
    add(app, &mut b, tenant, actor, caller, action, entity, changes);
    app.writer.write(b).await?;
    Ok(())
}
