-- Resource indicators (RFC 8707; docs/edge-oauth.md, "Resource servers and agents"): the
-- resource servers a client may ask tokens for, and the resources each authorization granted
-- (a refresh may narrow them, never widen them). Space-separated absolute URIs; NULL: none,
-- which means the edge's own resources (the access token's aud is the issuer).
ALTER TABLE clients ADD COLUMN resources TEXT;
ALTER TABLE auth_codes ADD COLUMN resource TEXT;
ALTER TABLE device_codes ADD COLUMN resource TEXT;
ALTER TABLE families ADD COLUMN resource TEXT;

-- DPoP (RFC 9449 section 5): the key (RFC 7638 thumbprint) a public client's token family is
-- bound to; every refresh needs a proof made with it.
ALTER TABLE families ADD COLUMN dpop_jkt TEXT;
