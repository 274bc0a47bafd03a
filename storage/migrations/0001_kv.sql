-- Parley's records on PostgreSQL (http/CLUSTER.md, "Records"): the same
-- big-endian, tenant-prefixed keys and postcard values as the sled trees,
-- so every storage trait keeps its keys, codecs and tenant isolation.
CREATE TABLE kv (
    tree  smallint NOT NULL,   -- 0: data (tenant-owned), 1: global
    key   bytea    NOT NULL,
    value bytea    NOT NULL,
    PRIMARY KEY (tree, key)
);

-- Who owns a tenant, until when, and the epoch every write checks
-- (http/CLUSTER.md, "Ownership").
CREATE TABLE tenant_lease (
    tenant  bytea       PRIMARY KEY,
    node    text        NOT NULL,
    epoch   bigint      NOT NULL,
    expires timestamptz NOT NULL
);
