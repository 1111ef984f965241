-- edge-oauth schema. Secrets are never stored: client secrets and passwords as PBKDF2
-- records, codes and refresh tokens by the hex SHA-256 of their 256-bit random value.

CREATE TABLE clients (
  id                TEXT PRIMARY KEY,
  name              TEXT NOT NULL,
  secret_hash       TEXT,                 -- NULL: public client
  redirect_uris     TEXT NOT NULL,        -- JSON array
  grant_types       TEXT NOT NULL,        -- space-separated
  scopes            TEXT NOT NULL,        -- space-separated
  access_token_ttl  INTEGER,
  refresh_token_ttl INTEGER,
  created_at        INTEGER NOT NULL
);

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  name          TEXT,
  created_at    INTEGER NOT NULL
);

-- One authorization (a code redemption or a password grant): the refresh tokens rotated
-- from it and the access tokens issued with them. Revoking the family revokes them all.
CREATE TABLE families (
  id             TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL,
  user_id        TEXT,
  scope          TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  revoked_at     INTEGER,
  revoked_reason TEXT
);
CREATE INDEX families_client ON families(client_id);
CREATE INDEX families_user ON families(user_id);

CREATE TABLE auth_codes (
  id             TEXT PRIMARY KEY,        -- hex SHA-256 of the code
  client_id      TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  redirect_uri   TEXT NOT NULL,
  scope          TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  expires_at     INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  used_at        INTEGER,                 -- set once, by a conditional UPDATE
  family_id      TEXT                     -- the family the redemption produced
);

CREATE TABLE refresh_tokens (
  id          TEXT PRIMARY KEY,           -- hex SHA-256 of the token
  family_id   TEXT NOT NULL,
  client_id   TEXT NOT NULL,
  user_id     TEXT,
  scope       TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  used_at     INTEGER,                    -- set once, by a conditional UPDATE
  replaced_by TEXT                        -- the successor's id
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

-- Individually revoked access and TURN tokens, by public token id, until they expire.
CREATE TABLE revocations (
  token_id   TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
);

-- Issuance and revocation: token ids, clients, users, never a secret.
CREATE TABLE audit (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  event     TEXT NOT NULL,
  token_id  TEXT,
  client_id TEXT,
  user_id   TEXT,
  family_id TEXT,
  detail    TEXT
);
CREATE INDEX audit_token ON audit(token_id);
CREATE INDEX audit_at ON audit(at);
