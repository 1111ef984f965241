// An agent's way to a protected resource, with panva's openid-client: refused by resource
// server A, it reads A's protected resource metadata (RFC 9728) from the 401's
// resource_metadata, discovers the authorization server it names, runs the code flow with
// PKCE and `resource` (RFC 8707) on both the authorization and the token request, and calls
// A. The same token at resource server B is refused; a refresh may not widen it to B.
//
//   node e2e/resource-client.mjs CONFIG_JSON
//
// CONFIG_JSON: {resourceA, resourceB (the /hello URLs), clientId, redirectUri, username,
// password}. Prints one JSON line of what it saw; exits non-zero on any failure.
import * as client from "openid-client";
import { authorize } from "./lib-forms.mjs";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const insecure = { execute: [client.allowInsecureRequests] }; // loopback http only
const out = {};
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };
const call = async (url, token) => {
  const r = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, challenge: r.headers.get("www-authenticate") ?? "", body: await r.text() };
};
const metadataUrl = (challenge) => challenge.match(/resource_metadata="([^"]+)"/)?.[1];
const errorCode = async (promise) => {
  try {
    await promise;
    return "none";
  } catch (e) {
    return e.error ?? e.code ?? String(e);
  }
};

try {
  // Refused without a token: the challenge says where the metadata is (RFC 9728 5.1).
  const first = await call(cfg.resourceA);
  check(first.status === 401, `A without a token: ${first.status}`);
  const where = metadataUrl(first.challenge);
  check(where, `no resource_metadata in ${first.challenge}`);
  const meta = await (await fetch(where)).json();
  check(meta.resource === cfg.resourceA, `metadata resource ${meta.resource}`);
  check(meta.bearer_methods_supported?.includes("header"), "bearer_methods_supported");
  out.metadata = meta;

  // The authorization server it names, by discovery (RFC 8414).
  const config = await client.discovery(new URL(meta.authorization_servers[0]), cfg.clientId, undefined, client.None(), insecure);
  const as = config.serverMetadata();
  out.discovery = { issuer: as.issuer, resourceIndicators: as.resource_indicators_supported ?? null };

  // Code flow with PKCE and the resource on both requests.
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirectUri, scope: meta.scopes_supported.join(" "), state, resource: meta.resource,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });
  const back = await authorize(url, cfg.username, cfg.password);
  check(new URL(back).searchParams.get("iss") === as.issuer, "RFC 9207 iss in the redirect");
  const tokens = await client.authorizationCodeGrant(config, new URL(back), {
    pkceCodeVerifier: verifier, expectedState: state,
  }, { resource: meta.resource });
  const payload = JSON.parse(Buffer.from(tokens.access_token.split(".")[1], "base64url").toString());
  out.aud = payload.aud;

  // A accepts it; B, another resource server on resource-verifier, refuses it.
  out.atA = await call(cfg.resourceA, tokens.access_token);
  out.atB = await call(cfg.resourceB, tokens.access_token);

  // A refresh may narrow (here: the same resource), never widen to B.
  out.widen = await errorCode(client.refreshTokenGrant(config, tokens.refresh_token, { resource: cfg.resourceB }));
  const again = await client.refreshTokenGrant(config, tokens.refresh_token, { resource: cfg.resourceA });
  out.refreshedAtA = (await call(cfg.resourceA, again.access_token)).status;
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e?.stack ?? e);
}
console.log(JSON.stringify(out));
