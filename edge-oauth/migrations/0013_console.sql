-- The operator console at /console (docs/edge-oauth.md, "Console"): its first-party OpenID
-- client, its short server-side sessions, who made each change, disabled people, and drains
-- asked for from the console.

-- The console signs people in through the edge's own authorization code flow with PKCE: a
-- public client (no secret sits in a browser) whose one redirect URI is a path on the edge's
-- own origin, resolved against ISSUER (oauth/client.rs, `has_redirect_uri_at`). No refresh.
INSERT OR IGNORE INTO clients (id, name, secret_hash, redirect_uris, grant_types, scopes, created_at, registered_by)
  VALUES ('edge-console', 'Edge console', NULL, '["/console/callback"]', 'authorization_code', 'openid', 0, 'admin');

-- Console sessions, by the hex SHA-256 of the cookie's 256-bit random value (never the value).
CREATE TABLE console_sessions (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);

-- Who made a change: the person signed in to the console (NULL for the admin API, token
-- endpoints and relays).
ALTER TABLE audit ADD COLUMN actor_id TEXT;
CREATE INDEX audit_actor ON audit(actor_id) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_user ON audit(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_client ON audit(client_id) WHERE client_id IS NOT NULL;

-- A disabled person cannot sign in (the console also revokes everything of theirs).
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- An operator asked from the console that this relay get no new callers: the edge stops
-- handing it out as if it were draining (the relay's own `draining` stays what it reports).
ALTER TABLE relays ADD COLUMN drain_requested_at INTEGER;
