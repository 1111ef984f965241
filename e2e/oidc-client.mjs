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
import { answerDevice, authorize, authorizeSilently, authorizeWithSession } from "./lib-forms.mjs";

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

  // Sessions: a sign-in starts one; the next authorization with prompt=none gets a code and
  // tokens without any page; max_age=0 shows the sign-in page again; without the session
  // (and after RP-initiated logout ends it) prompt=none is login_required.
  const pkce = async () => {
    const v = client.randomPKCECodeVerifier();
    return { v, c: await client.calculatePKCECodeChallenge(v) };
  };
  const authUrl = (p, extra) => client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirectUri, scope: "openid profile", state: "s1", nonce: "n1",
    code_challenge: p.c, code_challenge_method: "S256", ...extra,
  });
  const first = await pkce();
  const signedIn = await authorizeWithSession(authUrl(first, {}), cfg.username, cfg.password);
  const firstTokens = await client.authorizationCodeGrant(config, new URL(signedIn.location), {
    pkceCodeVerifier: first.v, expectedNonce: "n1", expectedState: "s1", idTokenExpected: true,
  });
  const fc = firstTokens.claims();
  const second = await pkce();
  const silent = await authorizeSilently(authUrl(second, { prompt: "none" }), signedIn.session);
  check(silent.status === 303 && silent.location?.includes("code="), `prompt=none with a session: ${silent.status} ${silent.location}`);
  const silentTokens = await client.authorizationCodeGrant(config, new URL(silent.location), {
    pkceCodeVerifier: second.v, expectedNonce: "n1", expectedState: "s1", idTokenExpected: true,
  });
  const sc = silentTokens.claims();
  check(sc.sub === fc.sub && sc.sid === fc.sid && sc.auth_time === fc.auth_time, "same person, session and sign-in");
  const third = await pkce();
  const again = await authorizeSilently(authUrl(third, { max_age: "0" }), signedIn.session);
  const fourth = await pkce();
  const noSession = await authorizeSilently(authUrl(fourth, { prompt: "none" }), null);
  const endSession = client.buildEndSessionUrl(config, { id_token_hint: silentTokens.id_token });
  const ended = await fetch(endSession, { redirect: "manual", headers: { cookie: signedIn.session } });
  const afterLogout = await authorizeSilently(authUrl(fourth, { prompt: "none" }), signedIn.session);
  const errorOf = (loc) => (loc ? new URL(loc).searchParams.get("error") : null);
  out.session = {
    first: { sid: fc.sid ?? null, amr: fc.amr ?? null, acr: fc.acr ?? null },
    silent: { sid: sc.sid ?? null, amr: sc.amr ?? null, acr: sc.acr ?? null, page: silent.status === 200 },
    maxAge0: { status: again.status, signInPage: again.html.includes('id="username"') },
    noSession: errorOf(noSession.location),
    logoutClearsCookie: (ended.headers.get("set-cookie") ?? "").includes("Max-Age=0"),
    afterLogout: errorOf(afterLogout.location),
  };

  console.log(JSON.stringify({ ok: true, ...out }));
} catch (e) {
  console.error(`openid-client e2e: ${e.stack ?? e}${e.cause ? `\ncause: ${JSON.stringify(e.cause)}` : ""}`);
  process.exit(1);
}
