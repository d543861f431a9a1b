-- The first schema (PostgreSQL). Kept in step with ../sqlite/0001_initial.sql: same tables,
-- columns and indexes; only the column types (and SQLite's STRICT) differ. JSON values are TEXT (never queried into).
-- Timestamps are ISO 8601 TEXT, which sorts in time order.

CREATE TABLE tenants (
  name       TEXT PRIMARY KEY,
  limits     TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  tenant       TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
  name         TEXT,
  scopes       TEXT NOT NULL,
  hash         TEXT NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  last_used_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant, created_at);

-- definition_seq: the last seq handed out (definitions and removals share it); code_cache_*:
-- the cache's totals, kept here so a put need not sum the table.
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('definition_seq', 0), ('code_cache_bytes', 0), ('code_cache_entries', 0);

-- removed_seq: NULL while live; the seq of the removal once removed but kept.
CREATE TABLE dylibs (
  seq         BIGINT PRIMARY KEY,
  tenant      TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  link_order  TEXT NOT NULL,
  removed_seq BIGINT
);
CREATE UNIQUE INDEX dylibs_live_name ON dylibs(tenant, name) WHERE removed_seq IS NULL;
CREATE INDEX dylibs_tenant ON dylibs(tenant, seq);

-- Module bytes, once per content hash (hex sha-256).
CREATE TABLE blobs (
  hash  TEXT PRIMARY KEY,
  bytes BYTEA NOT NULL,
  size  BIGINT NOT NULL
);

CREATE TABLE modules (
  seq         BIGINT PRIMARY KEY,
  tenant      TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
  id          TEXT NOT NULL,
  dylib_seq   BIGINT NOT NULL REFERENCES dylibs(seq) ON DELETE CASCADE,
  name        TEXT,
  lazy        SMALLINT NOT NULL,
  optimize    SMALLINT NOT NULL,
  hash        TEXT NOT NULL REFERENCES blobs(hash),
  bindings    TEXT NOT NULL,
  removed_seq BIGINT,
  UNIQUE (tenant, id)
);
CREATE INDEX modules_dylib ON modules(dylib_seq);
CREATE INDEX modules_hash ON modules(hash);

CREATE TABLE reexports (
  seq        BIGINT PRIMARY KEY,
  tenant     TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
  dylib_seq  BIGINT NOT NULL REFERENCES dylibs(seq) ON DELETE CASCADE,
  from_dylib TEXT NOT NULL,
  aliases    TEXT NOT NULL,
  lazy       SMALLINT NOT NULL,
  symbols    TEXT NOT NULL
);
CREATE INDEX reexports_dylib ON reexports(dylib_seq);
CREATE INDEX reexports_tenant ON reexports(tenant, seq);

-- last_used: a tick (microseconds since the epoch, made strictly increasing per process).
CREATE TABLE code_cache (
  key       TEXT PRIMARY KEY,
  bytes     BYTEA NOT NULL,
  size      BIGINT NOT NULL,
  last_used BIGINT NOT NULL
);
CREATE INDEX code_cache_lru ON code_cache(last_used);
