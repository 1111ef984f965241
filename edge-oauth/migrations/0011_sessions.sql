-- Sign-in sessions at the edge (docs/edge-oauth.md, "Sessions"): a person who signed in keeps
-- a server-side session, so the next authorization (another app, a silent renewal with
-- prompt=none) is answered without asking again when they consented before.

-- One row per sign-in. The cookie holds a 256-bit random value; only its hex SHA-256 is
-- stored. `sid` is the public session id put in ID tokens (never the cookie). A session ends
-- by deletion (sign-out, "sign out everywhere"), at `expires_at` (absolute), or when unused
-- for the idle lifetime (`last_seen_at`).
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,          -- hex SHA-256 of the cookie value
  sid          TEXT NOT NULL UNIQUE,      -- public session id (ID token `sid`)
  user_id      TEXT NOT NULL,
  amr          TEXT NOT NULL,             -- space-separated RFC 8176 methods of the sign-in
  auth_time    INTEGER NOT NULL,          -- when the person signed in
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,          -- absolute end
  user_agent   TEXT                       -- shown on the account page (truncated)
);
CREATE INDEX sessions_user ON sessions(user_id);

-- What a person allowed an app: the union of the scopes they consented to.
CREATE TABLE consents (
  user_id    TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  scope      TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
);

-- How the person was authenticated for a code and the family it produced: the session's
-- public id, the RFC 8176 methods, and the acr ("1": signed in for this request, "0":
-- answered from the session cookie).
ALTER TABLE auth_codes ADD COLUMN sid TEXT;
ALTER TABLE auth_codes ADD COLUMN amr TEXT;
ALTER TABLE auth_codes ADD COLUMN acr TEXT;
ALTER TABLE families ADD COLUMN sid TEXT;
ALTER TABLE families ADD COLUMN amr TEXT;
ALTER TABLE families ADD COLUMN acr TEXT;
CREATE INDEX families_sid ON families(sid) WHERE sid IS NOT NULL;

-- OpenID Connect Back-Channel Logout 1.0: where a client receives logout tokens, and whether it
-- needs the `sid` claim in them.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

-- Account recovery (docs/edge-oauth.md, "Account recovery"): a verified address, and the
-- single-use links sent by email (verification, password reset), stored by the hex SHA-256
-- of their 256-bit random value.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_email ON users(lower(email));
CREATE TABLE email_tokens (
  id         TEXT PRIMARY KEY,            -- hex SHA-256 of the link's token
  user_id    TEXT NOT NULL,
  purpose    TEXT NOT NULL,               -- 'verify' | 'reset'
  email      TEXT NOT NULL,               -- the address it was sent to
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  used_at    INTEGER,
  claimed_by TEXT                         -- the request that used it (guards its writes)
);
CREATE INDEX email_tokens_user ON email_tokens(user_id);

-- Messages a local worker without an email binding "sends" (read by the tests through
-- /admin/outbox). A deployed worker sends through its `send_email` binding instead.
CREATE TABLE outbox (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  to_addr    TEXT NOT NULL,
  subject    TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- Passkeys (WebAuthn): a person's discoverable credentials, by credential id, with the public
-- key as the JWK WebCrypto imports, and the signature counter (it must grow).
CREATE TABLE passkeys (
  id           TEXT PRIMARY KEY,          -- credential id, base64url
  user_id      TEXT NOT NULL,
  public_key   TEXT NOT NULL,             -- JWK JSON
  alg          TEXT NOT NULL,             -- ES256 | RS256
  sign_count   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX passkeys_user ON passkeys(user_id);

-- WebAuthn challenges already used (challenges are sealed values, so only their use is
-- stored: a second use of one is refused). Kept until they expire.
CREATE TABLE webauthn_used (
  id         TEXT PRIMARY KEY,            -- hex SHA-256 of the challenge
  expires_at INTEGER NOT NULL
);
