// panva's openid-client (an OpenID Certified relying party) against the local edge:
// discovery, code + PKCE + nonce with ID token validation against the published keys,
// userinfo, refresh, the device flow (approved and denied), dynamic registration (RFC 7591,
// then RFC 7592 read and delete) and RP-initiated logout.
//
//   node e2e/oidc-client.mjs CONFIG_JSON
//
// CONFIG_JSON: {issuer, clientId, redirectUri, postLogoutRedirectUri, deviceClientId,
// username, password, initialAccessToken}. Prints one JSON line of what it saw; exits
// non-zero on any failure.
import * as client from "openid-client";
import { answerDevice, authorize } from "./lib-forms.mjs";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const insecure = { execute: [client.allowInsecureRequests] }; // loopback http only
const out = {};
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };
// The OAuth error code of a refusal: from the JSON body, or from the WWW-Authenticate
// challenge (401 responses carry theirs there, RFC 6750 section 3).
const errorCode = async (promise) => {
  try {
    await promise;
    return "none";
  } catch (e) {
    if (e.error) return e.error;
    if (e.response) {
      try {
        const body = await e.response.clone().json();
        if (body.error) return body.error;
      } catch { /* no JSON body left to read */ }
    }
    return e.cause?.[0]?.parameters?.error ?? e.code ?? String(e);
  }
};

try {
  // Discovery, and ID tokens checked against jwks_uri (not only trusted from TLS).
  const config = await client.discovery(new URL(cfg.issuer), cfg.clientId, undefined, client.None(), insecure);
  client.enableNonRepudiationChecks(config);
  const meta = config.serverMetadata();
  check(meta.issuer === cfg.issuer, "issuer");
  check(meta.jwks_uri === `${cfg.issuer}/.well-known/jwks.json`, "jwks_uri");
  out.discovery = { algs: meta.id_token_signing_alg_values_supported, endSession: !!meta.end_session_endpoint };

  // Code flow with PKCE and a nonce.
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirectUri, scope: "openid profile email turn", nonce, state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });
  const back = await authorize(url, cfg.username, cfg.password);
  const tokens = await client.authorizationCodeGrant(config, new URL(back), {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
  const claims = tokens.claims();
  check(claims.nonce === nonce, "nonce");
  check(claims.preferred_username === cfg.username, "profile claims");
  check(typeof claims.auth_time === "number" && typeof claims.at_hash === "string", "auth_time and at_hash");
  out.code = { sub: claims.sub, aud: claims.aud, azp: claims.azp, email: claims.email ?? null };

  // Userinfo for the same subject.
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  check(info.sub === claims.sub, "userinfo sub");
  out.userinfo = info;

  // Refresh: a new ID token for the same person, the original auth_time, no nonce.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const rc = refreshed.claims();
  check(rc.sub === claims.sub && rc.auth_time === claims.auth_time && rc.nonce === undefined, "refreshed ID token");
  check(refreshed.refresh_token !== tokens.refresh_token, "rotation");
  out.refresh = { idToken: !!refreshed.id_token };

  // Device flow: approved on /device while polling.
  const devConfig = await client.discovery(new URL(cfg.issuer), cfg.deviceClientId, undefined, client.None(), insecure);
  client.enableNonRepudiationChecks(devConfig);
  const da = await client.initiateDeviceAuthorization(devConfig, { scope: "openid turn" });
  check(/^[A-Z]{4}-[A-Z]{4}$/.test(da.user_code), "user code shape");
  const approval = answerDevice(da.verification_uri_complete, cfg.username, cfg.password, "allow");
  const devTokens = await client.pollDeviceAuthorizationGrant(devConfig, da);
  await approval;
  check(devTokens.claims().sub === claims.sub, "device ID token subject");
  out.device = { sub: devTokens.claims().sub, refresh: !!devTokens.refresh_token };
  // ... and denied.
  const denied = await client.initiateDeviceAuthorization(devConfig, { scope: "openid" });
  const refusal = answerDevice(denied.verification_uri_complete, cfg.username, cfg.password, "deny");
  out.deviceDenied = await errorCode(client.pollDeviceAuthorizationGrant(devConfig, denied));
  await refusal;

  // Dynamic registration: refused without the initial access token, then registered.
  const metadata = {
    redirect_uris: [cfg.redirectUri], grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    token_endpoint_auth_method: "client_secret_basic", client_name: "openid-client test", scope: "openid profile",
  };
  out.registrationWithoutToken = await errorCode(client.dynamicClientRegistration(new URL(cfg.issuer), metadata, undefined, insecure));
  const reg = await client.dynamicClientRegistration(new URL(cfg.issuer), metadata, undefined, {
    ...insecure, initialAccessToken: cfg.initialAccessToken,
  });
  const cm = reg.clientMetadata();
  check(cm.client_id && cm.client_secret && cm.registration_access_token, "registration response");
  const cc = await client.clientCredentialsGrant(reg, { scope: "openid" });
  check(typeof cc.access_token === "string", "the registered client gets tokens");
  const auth = { authorization: `Bearer ${cm.registration_access_token}` };
  const read = await fetch(cm.registration_client_uri, { headers: auth });
  check(read.status === 200 && (await read.json()).client_id === cm.client_id, "RFC 7592 read");
  const del = await fetch(cm.registration_client_uri, { method: "DELETE", headers: auth });
  check(del.status === 204, "RFC 7592 delete");
  out.registration = { clientId: cm.client_id, afterDelete: await errorCode(client.clientCredentialsGrant(reg, { scope: "openid" })) };

  // RP-initiated logout: back to the registered URI with the state; the refresh token is dead.
  const end = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token, post_logout_redirect_uri: cfg.postLogoutRedirectUri, state: "bye",
  });
  const bye = await fetch(end, { redirect: "manual" });
  check(bye.status === 303, `logout status ${bye.status}`);
  out.logout = { location: bye.headers.get("location") };
  out.refreshAfterLogout = await errorCode(client.refreshTokenGrant(config, refreshed.refresh_token));

  console.log(JSON.stringify({ ok: true, ...out }));
} catch (e) {
  console.error(`openid-client e2e: ${e.stack ?? e}${e.cause ? `\ncause: ${JSON.stringify(e.cause)}` : ""}`);
  process.exit(1);
}
