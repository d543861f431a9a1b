-- Leases on tenants' live sessions, for several replicas on one PostgreSQL (src/replicas/):
-- a tenant's session (its instances, memories, compiled code) lives in one replica at a time,
-- the one holding its lease until expires_at (the database's clock). PostgreSQL only: a SQLite
-- store serves one process, which owns every session.

CREATE TABLE session_leases (
  tenant     TEXT PRIMARY KEY REFERENCES tenants(name) ON DELETE CASCADE,
  replica    TEXT NOT NULL,
  url        TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX session_leases_replica ON session_leases(replica);
