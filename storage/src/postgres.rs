//! The PostgreSQL side of the cluster (`http/CLUSTER.md`): its schema, as
//! versioned migrations applied in order, tenant leases with fenced writes
//! ([`lease`]) and the node's keeper of its leases ([`keeper`]). Each runs in its own transaction
//! and is recorded in `parley_migrations`; all of them run under one
//! advisory lock, so nodes starting together (or an operator's `parley
//! admin migrate` beside them) never apply one twice.

/// PostgreSQL's client error, for callers that name it.
pub use tokio_postgres::Error as PgError;
use tokio_postgres::NoTls;

pub mod keeper;
pub mod lease;
pub mod records;

/// The leases a node's writes are fenced by (its [`keeper::Keeper`]).
pub trait Fences: Send + Sync {
    /// The node's id, as the leases name it.
    fn node(&self) -> &str;
    /// The epoch of the lease held on `tenant`, while it is held.
    fn epoch(&self, tenant: parley_engine::TenantId) -> Option<i64>;
}

/// One step of the schema.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Never edit one that has shipped: add the next.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "kv",
    sql: include_str!("../migrations/0001_kv.sql"),
}];

/// The advisory lock migrations hold (any fixed number, ours alone).
const MIGRATION_LOCK: i64 = 0x7061_726c_6579_0001;

/// What [`migrate`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The versions applied by this call, in order.
    pub applied: Vec<i32>,
    /// The schema's version now.
    pub version: i32,
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    match rest.split_once('@') {
        Some((auth, host)) => {
            let user = auth.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// What went wrong, in one line: the server's own message for a database
/// error (tokio-postgres shows those as just "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// A client of the cluster's PostgreSQL, its connection driven on the
/// runtime until the client is dropped.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Brings the schema at `url` up to date.
pub async fn migrate(url: &str) -> Result<Migrated, tokio_postgres::Error> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let conn = tokio::spawn(connection);
    let result = async {
        // The lock first: two `CREATE TABLE IF NOT EXISTS` at once can
        // both miss the table and collide.
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS parley_migrations (
                     version    integer PRIMARY KEY,
                     name       text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
        let mut applied = Vec::new();
        for m in MIGRATIONS {
            let tx = client.transaction().await?;
            let done = tx
                .query_opt(
                    "SELECT 1 FROM parley_migrations WHERE version = $1",
                    &[&m.version],
                )
                .await?
                .is_some();
            if done {
                tx.rollback().await?;
                continue;
            }
            tx.batch_execute(m.sql).await?;
            tx.execute(
                "INSERT INTO parley_migrations (version, name) VALUES ($1, $2)",
                &[&m.version, &m.name],
            )
            .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "migration applied");
            applied.push(m.version);
        }
        let version: i32 = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM parley_migrations",
                &[],
            )
            .await?
            .get(0);
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await?;
        Ok(Migrated { applied, version })
    }
    .await;
    drop(client);
    let _ = conn.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave_in_a_url() {
        assert_eq!(
            redacted("postgres://parley:s3cret@db:5432/parley"),
            "postgres://parley:***@db:5432/parley"
        );
        assert_eq!(
            redacted("postgres://db:5432/parley"),
            "postgres://db:5432/parley"
        );
        assert_eq!(redacted("host=db password=x"), "(not a URL)");
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
    }
}
