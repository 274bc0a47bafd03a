//! `parley admin …`: offline administration of a stopped server's data dir.
//! Each command prints one JSON line on success.

use crate::auth::{hash_password, random_key};
use crate::cli::AdminCommand;
use crate::datadir;
use crate::fatal::Fatal;
use parley_engine::permissions::Role;
use parley_engine::records::*;
use parley_engine::validate;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, StoreConfig, WriteBatch};
use serde_json::json;

/// A new tenant with its owner and first site (named like the tenant).
pub fn new_tenant(
    name: String,
    owner_email: String,
    owner_name: String,
    password_hash: String,
) -> (TenantRecord, StaffRecord, SiteRecord) {
    new_tenant_with_id(
        TenantId::new(),
        name,
        owner_email,
        owner_name,
        password_hash,
    )
}

/// [`new_tenant`] with an id chosen earlier (a sign-up confirmed by mail
/// keeps the id its confirmation mail was queued under).
pub fn new_tenant_with_id(
    id: TenantId,
    name: String,
    owner_email: String,
    owner_name: String,
    password_hash: String,
) -> (TenantRecord, StaffRecord, SiteRecord) {
    let tenant = TenantRecord {
        id,
        name: name.clone(),
        created_at: Timestamp::now(),
    };
    let owner = new_staff(
        tenant.id,
        owner_email,
        owner_name,
        Role::Owner,
        password_hash,
    );
    let site = new_site(tenant.id, name);
    (tenant, owner, site)
}

/// A new, active staff member (an empty hash: invited, not active yet).
pub fn new_staff(
    tenant: TenantId,
    email: String,
    name: String,
    role: Role,
    password_hash: String,
) -> StaffRecord {
    StaffRecord {
        id: StaffId::new(),
        tenant_id: tenant,
        email,
        name,
        role,
        active: !password_hash.is_empty(),
        password_hash,
        token_version: 0,
        created_at: Timestamp::now(),
    }
}

/// A fresh public site key.
pub fn site_key() -> String {
    format!("pk_{}", random_key(24))
}

/// A new site with a fresh public key.
pub fn new_site(tenant: TenantId, name: String) -> SiteRecord {
    SiteRecord {
        id: SiteId::new(),
        tenant_id: tenant,
        name,
        key: site_key(),
        created_at: Timestamp::now(),
    }
}

/// The records an admin command works on: the data dir's, or a cluster's.
fn open(dir: &crate::cli::DataDir) -> Result<parley_storage::Store, Fatal> {
    match &dir.postgres_url {
        Some(url) => parley_storage::Store::open_postgres(url, 1, &dir.data_dir).map_err(|e| {
            Fatal::Other(format!(
                "PostgreSQL at {}: {e}",
                parley_storage::postgres::redacted(url)
            ))
        }),
        None => datadir::open(&dir.data_dir, &StoreConfig::default()),
    }
}

/// `parley admin migrate`: the cluster's schema, up to date.
fn migrate(config: Option<std::path::PathBuf>) -> Result<serde_json::Value, Fatal> {
    let cfg = crate::load_config(&crate::cli::ServeArgs {
        config,
        ..Default::default()
    })?;
    let url = cfg.cluster.postgres_url.ok_or_else(|| {
        Fatal::Usage(
            "no PostgreSQL to migrate: set [cluster] postgres_url or PARLEY_POSTGRES_URL".into(),
        )
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::Other(format!("cannot start a runtime: {e}")))?;
    let done = rt
        .block_on(parley_storage::postgres::migrate(&url))
        .map_err(|e| {
            Fatal::Other(format!(
                "migrating {}: {}",
                parley_storage::postgres::redacted(&url),
                parley_storage::postgres::describe(&e)
            ))
        })?;
    Ok(json!({"applied": done.applied, "version": done.version}))
}

/// Runs one admin command and prints its JSON line.
pub fn run(cmd: AdminCommand) -> Result<(), Fatal> {
    println!("{}", exec(cmd)?);
    Ok(())
}

/// Runs one admin command; returns what it prints.
pub fn exec(cmd: AdminCommand) -> Result<serde_json::Value, Fatal> {
    Ok(match cmd {
        AdminCommand::CreateTenant {
            name,
            owner_email,
            owner_password,
            owner_name,
            dir,
        } => {
            let name = validate::name(&name)?;
            let email = validate::email(&owner_email)?;
            validate::password(&owner_password, &email)?;
            let owner_name = validate::name(
                owner_name
                    .as_deref()
                    .unwrap_or_else(|| email.split('@').next().unwrap_or("Owner")),
            )?;
            let store = open(&dir)?;
            if store.staff_by_email(&email)?.is_some() {
                return Err(Fatal::Usage(format!(
                    "a staff member with email {email} already exists"
                )));
            }
            let (tenant, owner, site) =
                new_tenant(name, email, owner_name, hash_password(&owner_password));
            let mut b = WriteBatch::new();
            store.put_tenant(&mut b, &tenant);
            store.put_staff(&mut b, &owner);
            store.put_site(&mut b, &site);
            store.write_now(b)?;
            json!({"tenant_id": tenant.id, "owner_id": owner.id, "site_id": site.id, "site_key": site.key})
        }
        AdminCommand::CreateStaff {
            tenant,
            email,
            password,
            role,
            name,
            dir,
        } => {
            let tenant: TenantId = tenant
                .parse()
                .map_err(|_| Fatal::Usage(format!("--tenant {tenant} is not a tenant id")))?;
            let role = Role::parse(&role).ok_or_else(|| {
                Fatal::Usage(format!("--role {role} must be owner, admin or agent"))
            })?;
            let email = validate::email(&email)?;
            validate::password(&password, &email)?;
            let name = validate::name(
                name.as_deref()
                    .unwrap_or_else(|| email.split('@').next().unwrap_or("Staff")),
            )?;
            let store = open(&dir)?;
            if store.tenant(tenant)?.is_none() {
                return Err(Fatal::Usage(format!("no tenant {tenant} in this data dir")));
            }
            if store.staff_by_email(&email)?.is_some() {
                return Err(Fatal::Usage(format!(
                    "a staff member with email {email} already exists"
                )));
            }
            let staff = new_staff(tenant, email, name, role, hash_password(&password));
            let mut b = WriteBatch::new();
            store.put_staff(&mut b, &staff);
            store.write_now(b)?;
            json!({"staff_id": staff.id})
        }
        AdminCommand::SetPlan { tenant, plan, dir } => {
            let tenant: TenantId = tenant
                .parse()
                .map_err(|_| Fatal::Usage(format!("--tenant {tenant} is not a tenant id")))?;
            let store = open(&dir)?;
            if store.tenant(tenant)?.is_none() {
                return Err(Fatal::Usage(format!("no tenant {tenant} in this data dir")));
            }
            let mut sub = store.subscription(tenant)?;
            sub.plan = plan.clone();
            sub.next_plan = None;
            sub.grace_until = None;
            sub.status = parley_engine::plans::BillingStatus::Active;
            sub.updated_at = Some(Timestamp::now());
            let mut b = WriteBatch::new();
            store.put_subscription(&mut b, tenant, &sub);
            store.write_now(b)?;
            json!({"tenant_id": tenant, "plan": plan})
        }
        AdminCommand::Restore { from, data_dir } => {
            let info =
                parley_storage::backup::restore_backup(&from, &data_dir, &StoreConfig::default())
                    .map_err(|e| Fatal::Usage(format!("cannot restore {}: {e}", from.display())))?;
            json!({"data_dir": data_dir, "records": info.records, "bytes": info.bytes})
        }
        AdminCommand::Migrate { config } => migrate(config)?,
        AdminCommand::VerifyBackup { from, dir } => {
            let store = open(&dir)?;
            let (info, differ) = parley_storage::backup::compare_backup(&from, &store)
                .map_err(|e| Fatal::Usage(format!("cannot read {}: {e}", from.display())))?;
            json!({"records": info.records, "differ": differ, "equal": differ == 0})
        }
        AdminCommand::CreateSuperadmin {
            email,
            password,
            dir,
        } => {
            let email = validate::email(&email)?;
            validate::password(&password, &email)?;
            let store = open(&dir)?;
            if store.superadmin_by_email(&email)?.is_some() {
                return Err(Fatal::Usage(format!(
                    "a superadmin with email {email} already exists"
                )));
            }
            let rec = SuperadminRecord {
                id: StaffId::new(),
                email,
                password_hash: hash_password(&password),
                created_at: Timestamp::now(),
            };
            let mut b = WriteBatch::new();
            store.put_superadmin(&mut b, &rec);
            store.write_now(b)?;
            json!({"superadmin_id": rec.id})
        }
    })
}
