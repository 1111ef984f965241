-- The control plane between the edge and its relays (docs/control-plane.md): the TURN tokens
-- issued (so revoking a family, user or client reaches relays, and usage joins to client and
-- user), the feed of revoked TURN tokens relays poll, the relays' heartbeats, and usage.

-- Every TURN token issued, kept a week past its expiry (late usage still joins), then deleted
-- by housekeeping, oldest first.
CREATE TABLE turn_tokens (
  token_id   TEXT PRIMARY KEY,            -- shared-token's TokenId
  client_id  TEXT NOT NULL,
  user_id    TEXT,
  family_id  TEXT,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX turn_tokens_family ON turn_tokens(family_id) WHERE family_id IS NOT NULL;
CREATE INDEX turn_tokens_user ON turn_tokens(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX turn_tokens_client ON turn_tokens(client_id);

-- Tokens issued before this migration, from the audit trail; their lifetime is not recorded
-- there, so they are kept as if they lived the longest TURN_TOKEN_TTL (7 days).
INSERT OR IGNORE INTO turn_tokens (token_id, client_id, user_id, family_id, issued_at, expires_at)
  SELECT token_id, client_id, user_id, family_id, at, at + 604800 FROM audit
  WHERE event IN ('turn_token.issued', 'turn_credential.issued')
    AND token_id IS NOT NULL AND client_id IS NOT NULL;

-- The feed relays poll: seq only grows (AUTOINCREMENT never reuses a number), a token is in
-- it once, and a row goes once its token has expired.
CREATE TABLE turn_revocations (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  token_id   TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL,
  reason     TEXT NOT NULL
);
CREATE UNIQUE INDEX turn_revocations_token ON turn_revocations(token_id);
CREATE INDEX turn_revocations_expiry ON turn_revocations(expires_at);

-- TURN tokens revoked before this migration (RFC 7009) enter the feed too.
INSERT OR IGNORE INTO turn_revocations (token_id, expires_at, revoked_at, reason)
  SELECT token_id, expires_at, revoked_at, 'revoked' FROM revocations WHERE kind = 'turn';

-- One row per relay, rewritten by each heartbeat. A relay id belongs to the client that
-- first sent it.
CREATE TABLE relays (
  relay_id          TEXT PRIMARY KEY,
  client_id         TEXT NOT NULL,
  urls              TEXT NOT NULL,        -- JSON array of turn:/turns: URLs
  region            TEXT,
  latitude          REAL,
  longitude         REAL,
  allocations       INTEGER NOT NULL,
  capacity          INTEGER NOT NULL,
  load              REAL NOT NULL,
  draining          INTEGER NOT NULL,
  version           TEXT,
  revocation_cursor INTEGER,
  usage_backlog     INTEGER,
  usage_dropped     INTEGER,
  first_seen        INTEGER NOT NULL,
  last_seen         INTEGER NOT NULL
) WITHOUT ROWID;

-- Per relay and spool epoch: the highest usage record applied, and the nonce of the request
-- that applied it (what that request's rows are guarded by).
CREATE TABLE usage_cursors (
  relay_id        TEXT NOT NULL,
  epoch           TEXT NOT NULL,
  applied_through INTEGER NOT NULL,
  claim           TEXT NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (relay_id, epoch)
) WITHOUT ROWID;

-- Usage per UTC day, token and transport, with the client and user the token was issued to.
CREATE TABLE relay_usage (
  day               TEXT NOT NULL,        -- YYYY-MM-DD, UTC
  token_id          TEXT NOT NULL,
  transport         TEXT NOT NULL,        -- udp | tcp | tls | dtls
  client_id         TEXT,
  user_id           TEXT,
  allocations       INTEGER NOT NULL,
  to_peer_packets   INTEGER NOT NULL,
  to_peer_bytes     INTEGER NOT NULL,
  to_client_packets INTEGER NOT NULL,
  to_client_bytes   INTEGER NOT NULL,
  first_start       INTEGER,
  last_end          INTEGER,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (day, token_id, transport)
) WITHOUT ROWID;
CREATE INDEX relay_usage_user ON relay_usage(user_id, day);
CREATE INDEX relay_usage_client ON relay_usage(client_id, day);

-- "Revoke everything of user X": the user's access tokens issued at or before this second no
-- longer stand.
ALTER TABLE users ADD COLUMN revoked_before INTEGER;
