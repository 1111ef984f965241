-- edge-oauth as an OpenID Provider (docs/edge-oauth.md): ID tokens, users' profile and rights,
-- self-service and dynamic client registration, RP-initiated logout, the device flow.
-- Secrets are still never stored: registration and initial access tokens and device codes
-- by the hex SHA-256 of their 256-bit random value.

-- The person behind a user: email (not verified by this server), and named rights
-- (space-separated `SCOPE:NAME`), carried in access tokens whose scope covers them.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN rights TEXT NOT NULL DEFAULT '';

-- Clients: where RP-initiated logout may return (JSON array), the ID token algorithm, who
-- registered the client (`admin`, `self_service`, `dynamic`), the person who did on
-- /create_client, and the RFC 7592 registration access token's lookup key.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';
ALTER TABLE clients ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE clients ADD COLUMN owner_id TEXT;
ALTER TABLE clients ADD COLUMN registration_key TEXT;
CREATE INDEX clients_owner ON clients(owner_id);
CREATE UNIQUE INDEX clients_registration_key ON clients(registration_key);

-- The OpenID Connect request a code was issued for: its nonce, and when the person signed in.
ALTER TABLE auth_codes ADD COLUMN nonce TEXT;
ALTER TABLE auth_codes ADD COLUMN auth_time INTEGER;

-- When the person signed in for an authorization (NULL for grants without one, such as the
-- password grant): refreshes of it issue ID tokens with this auth_time.
ALTER TABLE families ADD COLUMN auth_time INTEGER;

-- Device authorizations (RFC 8628). status: pending -> approved | denied -> redeemed, each
-- step a conditional UPDATE.
CREATE TABLE device_codes (
  id           TEXT PRIMARY KEY,          -- hex SHA-256 of the device code
  user_code    TEXT NOT NULL,             -- normalised (upper case, no dash)
  client_id    TEXT NOT NULL,
  scope        TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending',
  user_id      TEXT,
  auth_time    INTEGER,
  poll_interval INTEGER NOT NULL,
  last_poll_at INTEGER,
  expires_at   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  decided_at   INTEGER,
  family_id    TEXT                       -- the family the redemption produced
);
CREATE INDEX device_codes_user_code ON device_codes(user_code);

-- Initial access tokens for dynamic client registration (RFC 7591 section 3), from the admin
-- API; usable until they expire.
CREATE TABLE initial_access_tokens (
  id         TEXT PRIMARY KEY,            -- hex SHA-256 of the token
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
