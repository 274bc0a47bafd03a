//! `/api/v1/admin/*`: the instance operator (superadmin) signs in, lists
//! tenants with their usage, and suspends or resumes them. A suspended
//! tenant's staff cannot sign in or use their tokens, and its sockets close
//! with 4403 (the widget shows offline).

use super::auth::{verify, with_device_cookie};
use super::error::{ApiError, ApiJson};
use super::principal::{Caller, Operator};
use super::Page;
use crate::auth::dummy_hash;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parley_engine::codes::error as code;
use parley_engine::records::TenantRecord;
use parley_storage::{AccountStore, AuthStore};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// `POST /admin/auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorLogin {
    email: String,
    password: String,
}

/// Signs the instance operator in.
#[utoipa::path(post, path = "/api/v1/admin/auth/login", tag = "admin", request_body = OperatorLogin,
    responses((status = 200, description = "`{access_token, token_type, expires_in}`", body = Object),
        (status = 401, description = "`invalid_credentials`"), (status = 429)))]
pub async fn login(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OperatorLogin>,
) -> Result<Response, ApiError> {
    let email = body.email.trim().to_ascii_lowercase();
    // The operator's failures and device cookie are kept apart from a
    // staff account with the same address.
    let account = format!("operator:{email}");
    let now = parley_engine::Timestamp::now().millis() / 1000;
    let device = app.devices.from_headers(&headers, &account, now);
    let attempt = app.limiters.sign_in(caller.ip, &account, device)?;
    let op = app.store.superadmin_by_email(&email)?;
    let phc = op
        .as_ref()
        .map(|o| o.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    match (verify(&app, body.password, phc).await?, op) {
        (true, Some(op)) => {
            app.limiters.signed_in(attempt);
            tracing::info!(superadmin = %op.id, "operator login");
            let body = Json(json!({
                "access_token": app.tokens.issue_operator(op.id),
                "token_type": "Bearer",
                "expires_in": app.tokens.access_ttl(),
            }));
            Ok(with_device_cookie(
                &app,
                &account,
                device,
                body.into_response(),
            ))
        }
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_CREDENTIALS,
            "wrong email or password",
        )),
    }
}

fn tenant_view(app: &App, t: &TenantRecord) -> Result<Value, ApiError> {
    let state = app.store.tenant_state(t.id)?;
    let plan = crate::app::plans::plan_of(app, t.id)?;
    // Two tenants may share a name: the first owner's email and the first
    // site tell them apart in the operator's list.
    let owner = app
        .store
        .staff_list(t.id)?
        .into_iter()
        .filter(|s| s.role == parley_engine::permissions::Role::Owner)
        .min_by_key(|s| s.created_at);
    let first_site = app
        .store
        .sites(t.id)?
        .into_iter()
        .min_by_key(|s| s.created_at);
    Ok(json!({
        "id": t.id,
        "name": t.name,
        "owner_email": owner.map(|s| s.email),
        "first_site": first_site.map(|s| s.name),
        "created_at": t.created_at,
        "suspended": state.suspended,
        "usage": app.store.usage(t.id)?,
        "plan": plan.name,
        "price_cents": plan.price_cents,
    }))
}

/// `PATCH /admin/tenants/{id}` body.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantAdminPatch {
    /// A plan's name (`free`, `pro`, `business`, or one the config adds).
    plan: String,
}

/// Puts a tenant on a plan (audited).
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}", tag = "admin", request_body = TenantAdminPatch,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn update_tenant(
    State(app): State<App>,
    op: Operator,
    Path(id): Path<String>,
    super::error::ApiJson(body): super::error::ApiJson<TenantAdminPatch>,
) -> Result<Json<Value>, ApiError> {
    let t: parley_engine::TenantId = id.parse().map_err(|_| ApiError::not_found("tenant"))?;
    crate::app::plans::set_plan(&app, &op, t, &body.plan).await?;
    let rec = app
        .store
        .tenant(t)?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(tenant_view(&app, &rec)?))
}

/// Platform totals: tenants by plan and the monthly recurring revenue.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin",
    responses((status = 200, body = Object), (status = 401)), security(("bearer" = [])))]
pub async fn stats(State(app): State<App>, _op: Operator) -> Result<Json<Value>, ApiError> {
    use parley_engine::analytics::hour_of;
    use parley_storage::keys::Tally;
    use parley_storage::AnalyticsStore;
    let mut by_plan = serde_json::Map::new();
    let mut mrr: u64 = 0;
    let (mut messages, mut conversations) = (0u64, 0u64);
    // Messages a day over the last seven UTC days, from the sites' buckets.
    let today = hour_of(parley_engine::Timestamp::now()) / 24;
    let first = today.saturating_sub(6);
    let mut per_day = [0u64; 7];
    for t in app.store.tenants()? {
        for s in app.store.sites(t.id)? {
            let who = Tally::Site(s.id);
            for (h, b) in app.store.buckets(t.id, who, first * 24, today * 24 + 23)? {
                if let Some(d) = per_day.get_mut((h / 24 - first) as usize) {
                    *d += b.messages_visitor + b.messages_staff;
                }
            }
        }
        let p = crate::app::plans::plan_of(&app, t.id)?;
        let n = by_plan.entry(p.name.clone()).or_insert(json!(0));
        *n = json!(n.as_u64().unwrap_or(0) + 1);
        mrr += u64::from(p.price_cents);
        let u = app.store.usage(t.id)?;
        messages += u.messages;
        conversations += u.conversations;
    }
    Ok(Json(json!({
        "tenants_by_plan": by_plan,
        "mrr_cents": mrr,
        "messages": messages,
        "conversations": conversations,
        "messages_per_day": per_day.iter().enumerate().map(|(i, n)| {
            let day = parley_engine::Timestamp((first as u64 + i as u64) * 86_400_000);
            json!({"day": &day.to_rfc3339()[..10], "messages": n})
        }).collect::<Vec<_>>(),
    })))
}

/// Every tenant with its usage (staff, sites, conversations, messages, storage bytes).
#[utoipa::path(get, path = "/api/v1/admin/tenants", tag = "admin",
    responses((status = 200, body = Page), (status = 401)), security(("bearer" = [])))]
pub async fn tenants(State(app): State<App>, _op: Operator) -> Result<Json<Page>, ApiError> {
    let items = app
        .store
        .tenants()?
        .iter()
        .map(|t| tenant_view(&app, t))
        .collect::<Result<_, _>>()?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Suspends a tenant: its staff are signed out and its widget shows offline.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/suspend", tag = "admin",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn suspend(
    State(app): State<App>,
    op: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = crate::app::tenant::set_suspended(&app, &op, &id, true).await?;
    Ok(Json(tenant_view(&app, &tenant)?))
}

/// Resumes a suspended tenant.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/resume", tag = "admin",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn resume(
    State(app): State<App>,
    op: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = crate::app::tenant::set_suspended(&app, &op, &id, false).await?;
    Ok(Json(tenant_view(&app, &tenant)?))
}

/// Writes a consistent backup of the whole instance while it serves (the
/// storage writer takes it between two group commits: writes wait for it,
/// reads do not) and answers where. `parley admin restore --from PATH
/// --data-dir DIR` makes a working data dir of it. The file is 0600 and
/// leaves the token-signing secret out.
#[utoipa::path(post, path = "/api/v1/admin/backups", tag = "admin",
    responses((status = 201, body = Object), (status = 401)), security(("bearer" = [])))]
pub async fn backup(
    State(app): State<App>,
    op: Operator,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let dir = app
        .config
        .storage
        .backup_dir
        .clone()
        .unwrap_or_else(|| app.config.data_dir.join("backups"));
    parley_storage::backup::private_dir(&dir).map_err(ApiError::internal)?;
    let at = parley_engine::Timestamp::now();
    let name = format!(
        "parley-{}-{}.backup",
        at.to_rfc3339().replace([':', '.'], "-"),
        ulid::Ulid::new()
    );
    let path = dir.join(name);
    let target = path.clone();
    let info = app
        .writer
        .exclusive(move |store| parley_storage::backup::write_backup(store, &target))
        .await??;
    tracing::info!(path = %path.display(), records = info.records, by = %op.id, "backup written");
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"path": path, "records": info.records, "bytes": info.bytes, "at": at})),
    ))
}
