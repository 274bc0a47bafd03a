//! Tenant ownership on PostgreSQL (`http/CLUSTER.md`, "Ownership"): a row
//! of `tenant_lease` per tenant names the node that runs its actors, until
//! when, and an **epoch** that grows by one on every acquisition. Every
//! write of a tenant's records checks the epoch it was acquired with, in the
//! same transaction and under `FOR SHARE`, so a node that lost its lease
//! (killed, paused, cut off) can never write again: by the time it tries,
//! the epoch has moved, and a take-over waits for a commit it overlaps.
//!
//! Time is PostgreSQL's `now()`, never a node's clock.

use crate::{Op, TreeId};
use parley_engine::TenantId;
use std::collections::BTreeMap;
use tokio_postgres::GenericClient;

/// A tenant this node holds, and the epoch its writes carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Held {
    pub tenant: TenantId,
    pub epoch: i64,
}

/// Who owns a tenant, as the table says now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub node: String,
    pub epoch: i64,
    /// False once the lease ran out (anyone may acquire it).
    pub live: bool,
}

/// Why a fenced write did not land.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// These tenants' leases moved on: nothing of the batch was written.
    #[error("fenced: the lease of {} tenant(s) is held elsewhere now", .0.len())]
    Fenced(Vec<TenantId>),
    #[error("postgres: {}", super::describe(.0))]
    Db(#[from] tokio_postgres::Error),
}

fn tenant_bytes(t: TenantId) -> Vec<u8> {
    t.to_bytes().to_vec()
}

/// Takes `tenant` for `node` for `secs` seconds if nobody else holds a
/// live lease on it (or `node` already does); returns the new epoch, or
/// `None` when another node holds it. Re-acquiring one's own lease moves
/// the epoch too, fencing any earlier incarnation of the same node.
pub async fn acquire(
    c: &impl GenericClient,
    tenant: TenantId,
    node: &str,
    secs: f64,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "INSERT INTO tenant_lease AS l (tenant, node, epoch, expires)
             VALUES ($1, $2, 1, now() + $3 * interval '1 second')
             ON CONFLICT (tenant) DO UPDATE
                SET node = EXCLUDED.node, epoch = l.epoch + 1, expires = EXCLUDED.expires
                WHERE l.node = EXCLUDED.node OR l.expires < now()
             RETURNING epoch",
            &[&tenant_bytes(tenant), &node, &secs],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Extends every lease in `held` that `node` still holds at that epoch by
/// `secs` from now, in one statement; returns the ones extended, in no
/// particular order. One that is missing was taken over: its actors must stop.
pub async fn renew(
    c: &impl GenericClient,
    node: &str,
    held: &[Held],
    secs: f64,
) -> Result<Vec<Held>, tokio_postgres::Error> {
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let tenants: Vec<Vec<u8>> = held.iter().map(|h| tenant_bytes(h.tenant)).collect();
    let epochs: Vec<i64> = held.iter().map(|h| h.epoch).collect();
    let rows = c
        .query(
            "UPDATE tenant_lease AS l SET expires = now() + $2 * interval '1 second'
             FROM unnest($3::bytea[], $4::int8[]) AS h(tenant, epoch)
             WHERE l.tenant = h.tenant AND l.epoch = h.epoch AND l.node = $1
             RETURNING l.tenant, l.epoch",
            &[&node, &secs, &tenants, &epochs],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let t: Vec<u8> = r.get(0);
            let t: [u8; 16] = t.try_into().ok()?;
            Some(Held {
                tenant: TenantId::from_bytes(t),
                epoch: r.get(1),
            })
        })
        .collect())
}

/// Gives a lease up at once (a clean stop), so the next node need not wait
/// for it to run out. False when it was no longer ours.
pub async fn release(
    c: &impl GenericClient,
    node: &str,
    held: Held,
) -> Result<bool, tokio_postgres::Error> {
    let n = c
        .execute(
            "UPDATE tenant_lease SET expires = now() - interval '1 microsecond'
             WHERE tenant = $1 AND node = $2 AND epoch = $3",
            &[&tenant_bytes(held.tenant), &node, &held.epoch],
        )
        .await?;
    Ok(n == 1)
}

/// Who owns `tenant`, if anyone ever did.
pub async fn owner(
    c: &impl GenericClient,
    tenant: TenantId,
) -> Result<Option<Owner>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "SELECT node, epoch, expires > now() FROM tenant_lease WHERE tenant = $1",
            &[&tenant_bytes(tenant)],
        )
        .await?;
    Ok(row.map(|r| Owner {
        node: r.get(0),
        epoch: r.get(1),
        live: r.get(2),
    }))
}

/// Writes `ops` in one transaction if `node` still holds every lease in
/// `fences` at its epoch ([`fence`]); otherwise writes nothing and names
/// the tenants whose leases moved.
///
/// Operations on the same key keep the last; global-tree operations need
/// no fence (their conflicts are PostgreSQL's unique keys).
pub async fn write_fenced(
    c: &mut tokio_postgres::Client,
    node: &str,
    fences: &[Held],
    ops: &[Op],
) -> Result<(), WriteError> {
    let tx = c.transaction().await?;
    if let Err(e) = fence(&tx, node, fences).await {
        tx.rollback().await?;
        return Err(e);
    }
    put_all(&tx, ops).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks, inside the transaction `tx`, that `node` holds every lease in
/// `fences` at its epoch, and share-locks those rows until `tx` ends: a
/// take-over (an `UPDATE` of the row) waits for the commit, so a write and
/// a take-over are always ordered.
pub async fn fence(
    tx: &tokio_postgres::Transaction<'_>,
    node: &str,
    fences: &[Held],
) -> Result<(), WriteError> {
    if fences.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Vec<u8>> = fences.iter().map(|h| tenant_bytes(h.tenant)).collect();
    let epochs: Vec<i64> = fences.iter().map(|h| h.epoch).collect();
    let rows = tx
        .query(
            "SELECT l.tenant FROM tenant_lease AS l
             JOIN unnest($2::bytea[], $3::int8[]) AS h(tenant, epoch)
               ON l.tenant = h.tenant AND l.epoch = h.epoch
             WHERE l.node = $1
             FOR SHARE OF l",
            &[&node, &tenants, &epochs],
        )
        .await?;
    let kept: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
    let lost: Vec<TenantId> = fences
        .iter()
        .filter(|h| !kept.contains(&tenant_bytes(h.tenant)))
        .map(|h| h.tenant)
        .collect();
    if lost.is_empty() {
        Ok(())
    } else {
        Err(WriteError::Fenced(lost))
    }
}

/// Puts and deletes `ops` (the last operation on each key wins, as in
/// sled's batch): one statement for the puts, one for the deletes.
async fn put_all(
    tx: &tokio_postgres::Transaction<'_>,
    ops: &[Op],
) -> Result<(), tokio_postgres::Error> {
    let mut last: BTreeMap<(i16, &[u8]), Option<&[u8]>> = BTreeMap::new();
    for op in ops {
        let tree = match op.tree {
            TreeId::Data => 0i16,
            TreeId::Global => 1,
        };
        last.insert((tree, &op.key), op.value.as_deref());
    }
    let (mut pt, mut pk, mut pv) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dt, mut dk) = (Vec::new(), Vec::new());
    for ((tree, key), value) in last {
        match value {
            Some(v) => {
                pt.push(tree);
                pk.push(key);
                pv.push(v);
            }
            None => {
                dt.push(tree);
                dk.push(key);
            }
        }
    }
    if !pk.is_empty() {
        tx.execute(
            "INSERT INTO kv (tree, key, value)
             SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[])
             ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value",
            &[&pt, &pk, &pv],
        )
        .await?;
    }
    if !dk.is_empty() {
        tx.execute(
            "DELETE FROM kv USING unnest($1::int2[], $2::bytea[]) AS d(tree, key)
             WHERE kv.tree = d.tree AND kv.key = d.key",
            &[&dt, &dk],
        )
        .await?;
    }
    Ok(())
}
