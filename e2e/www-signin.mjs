// End to end in a real browser: the page served by the local worker, sign-in as the demo
// user (authorization code + PKCE in a popup), ICE servers from the helper, a relay-only
// data channel through relay-native, and the person's relay usage as the relay reported it.
//
//   node e2e/www-signin.mjs ORIGIN USERNAME PASSWORD [nonce-required]
//
// The helper binds its tokens with DPoP (RFC 9449): the test checks the binding, the key kept
// in IndexedDB (non-extractable), that the access token is refused as a bearer token, and that
// a reload resumes with the same key. With `nonce-required` (the edge runs DPOP_NONCE=required)
// it also checks that the helper answered `use_dpop_nonce` by retrying with the edge's nonce.
//
// Prints one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [origin, username, password, nonceMode] = process.argv.slice(2);
if (!origin || !username || !password) {
  console.error("usage: node e2e/www-signin.mjs ORIGIN USERNAME PASSWORD");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "edgeturn-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--allow-loopback-in-peer-connection", "--disable-gpu", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const fail = async (msg) => {
  console.error(`www e2e: ${msg}`);
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out after 90 s"), 90_000);

try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // DPoP (RFC 9449): every token response, and how /turn/credentials was asked.
  const tokens = [];
  const credentialRequests = [];
  page.on("response", async (r) => {
    if (r.url() !== `${origin}/oauth2/token`) return;
    const grant = new URLSearchParams(r.request().postData() ?? "").get("grant_type");
    const body = await r.json().catch(() => ({}));
    tokens.push({ grant, status: r.status(), tokenType: body.token_type, accessToken: body.access_token,
                  error: body.error, proof: r.request().headers()["dpop"] });
  });
  page.on("request", (r) => {
    if (r.url().startsWith(`${origin}/turn/credentials`) && r.method() === "GET") {
      credentialRequests.push({ authorization: r.headers()["authorization"] ?? "", proof: r.headers()["dpop"] });
    }
  });
  // The key pair as IndexedDB keeps it: whether the private key could be exported, and the
  // public key's coordinates.
  const storedKey = () => page.evaluate(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("edgeturn-dpop");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const records = await new Promise((ok, no) => {
      const r = db.transaction("keys").objectStore("keys").getAll();
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    db.close();
    if (records.length !== 1) return { count: records.length };
    const [rec] = records;
    const jwk = await crypto.subtle.exportKey("jwk", rec.publicKey);
    let exported = false;
    try { await crypto.subtle.exportKey("jwk", rec.privateKey); exported = true; } catch {}
    return { count: 1, extractable: rec.privateKey.extractable, type: rec.privateKey.type,
             alg: rec.privateKey.algorithm.name, exported, x: jwk.x,
             // The bound refresh token is the tab's (sessionStorage), never in the key's record.
             refreshInRecord: "refreshToken" in rec,
             hasRefresh: Object.keys(sessionStorage).some((k) => k.startsWith("edgeturn-dpop-refresh ")) };
  });
  await page.goto(`${origin}/`);

  // Sign in through the popup: the edge's sign-in page, then its consent page.
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#sign-in")]);
  await popup.waitForSelector("#username");
  await popup.fill("#username", username);
  await popup.fill("#password", password);
  await popup.click('button[type="submit"]');
  const allow = popup.locator('button[name="decision"][value="allow"]');
  await allow.waitFor();
  await allow.click();
  await page.waitForFunction(() => document.getElementById("who").dataset.state !== "idle", null, { timeout: 15_000 });
  const who = await page.textContent("#who");
  if (who !== "signed in") await fail(`sign-in did not complete: ${who}`);

  // The helper fetched ICE servers: the page shows the token's metadata.
  await page.waitForFunction(() => document.getElementById("token-id").textContent.length === 16, null, { timeout: 15_000 });
  const meta = await page.evaluate(() => ({
    kid: document.getElementById("kid").textContent,
    tokenId: document.getElementById("token-id").textContent,
    expires: document.getElementById("expires").textContent,
    urls: document.getElementById("urls").textContent,
    page: document.body.innerText,
  }));

  // DPoP: the code exchange was bound to the browser's key, and /turn/credentials took the
  // token with a proof.
  const exchange = tokens.find((t) => t.grant === "authorization_code" && t.status === 200);
  const proofClaims = (proof) => JSON.parse(Buffer.from(proof.split(".")[1], "base64url").toString());
  if (nonceMode === "nonce-required") {
    const [first, second] = tokens.filter((t) => t.grant === "authorization_code");
    if (first?.status !== 400 || first.error !== "use_dpop_nonce" || second !== exchange) {
      await fail(`the code exchange was not use_dpop_nonce then a retry: ${JSON.stringify(tokens.map((t) => [t.grant, t.status, t.error]))}`);
    }
    if (!proofClaims(exchange.proof).nonce) await fail("the retried code exchange's proof has no nonce");
  }
  if (!exchange || exchange.status !== 200) await fail(`no successful code exchange seen: ${JSON.stringify(tokens)}`);
  if (exchange.tokenType !== "DPoP") await fail(`the code exchange's token_type is ${exchange.tokenType}, not DPoP`);
  if (!exchange.proof) await fail("the code exchange carried no DPoP proof");
  const asked = credentialRequests.at(-1);
  if (!asked?.authorization.startsWith("DPoP ") || !asked.proof) {
    await fail(`/turn/credentials was asked without DPoP: ${JSON.stringify(asked)}`);
  }
  const key = await storedKey();
  if (key.count !== 1) await fail(`IndexedDB holds ${key.count} key records, not 1`);
  if (key.extractable !== false || key.exported || key.type !== "private" || key.alg !== "ECDSA") {
    await fail(`the stored private key is not a non-extractable ECDSA key: ${JSON.stringify(key)}`);
  }
  if (!key.hasRefresh || key.refreshInRecord) await fail(`the bound refresh token is not (only) in the tab's sessionStorage: ${JSON.stringify(key)}`);
  // The bound access token is refused as a bearer token.
  const asBearer = await page.evaluate(async ([o, t]) => {
    const r = await fetch(`${o}/turn/credentials`, { headers: { Authorization: `Bearer ${t}` } });
    return { status: r.status, challenge: r.headers.get("WWW-Authenticate") };
  }, [origin, exchange.accessToken]);
  if (asBearer.status !== 401) await fail(`the DPoP-bound access token was taken as Bearer: HTTP ${asBearer.status}`);

  // A reload keeps the key: the page resumes with the bound refresh token, signed with it.
  const beforeReload = tokens.length;
  await page.reload();
  await page.waitForFunction(() => document.getElementById("who").textContent === "signed in", null, { timeout: 15_000 });
  await page.waitForFunction(() => document.getElementById("token-id").textContent.length === 16, null, { timeout: 15_000 });
  // (After a reload the helper has no nonce yet: with nonce-required the first try is a 400.)
  const resumed = tokens.slice(beforeReload).find((t) => t.grant === "refresh_token" && t.status === 200);
  if (!resumed || resumed.tokenType !== "DPoP") {
    await fail(`no DPoP refresh after the reload: ${JSON.stringify(tokens.slice(beforeReload))}`);
  }
  const keyAfter = await storedKey();
  if (keyAfter.count !== 1 || keyAfter.x !== key.x) await fail("the reload made a new key instead of keeping the stored one");
  meta.tokenId = await page.textContent("#token-id");
  meta.kid = await page.textContent("#kid");

  // The relay-only self-test.
  await page.click("#self-test");
  await page.waitForFunction(() => ["ok", "error"].includes(window.edgeturnResult.state), null, { timeout: 30_000 });
  const result = await page.evaluate(() => window.edgeturnResult);
  if (result.state !== "ok") await fail(`self-test failed: ${result.message}`);
  for (const [side, pair] of [["offerer", result], ["answerer", result.remotePair]]) {
    if (pair.localType !== "relay" || pair.remoteType !== "relay") {
      await fail(`${side}'s selected pair is ${pair.localType} -> ${pair.remoteType}, not relay -> relay`);
    }
  }
  // The relay reports what the self-test relayed; the page's usage view shows it (the relay
  // sends usage every few seconds once an allocation ends).
  let usageBytes = 0;
  for (let i = 0; i < 30 && usageBytes === 0; i++) {
    await page.click("#usage-refresh");
    await page.waitForTimeout(1000);
    usageBytes = await page.evaluate(() => Number(document.getElementById("usage-total").dataset.bytes ?? 0));
  }
  if (usageBytes === 0) await fail(`the usage view never showed relayed bytes: ${await page.textContent("#usage-total")}`);
  const usageRows = await page.evaluate(() => document.getElementById("usage").tBodies[0].rows.length);
  if (usageRows < 1) await fail("the usage view has no rows");
  if (errors.length) await fail(`page errors: ${errors.join("; ")}`);
  if (/mac_key/i.test(meta.page)) await fail("the page shows key material");

  // A returning visitor (another tab, same browser) is not asked again: the edge's session
  // answers the popup's authorization with a redirect, no sign-in or consent page.
  const tab = await browser.newPage();
  await tab.goto(`${origin}/`);
  const authorizeStatuses = [];
  const onResponse = (r) => { if (new URL(r.url()).pathname === "/oauth2/authorize") authorizeStatuses.push(r.status()); };
  browser.on("response", onResponse);
  await Promise.all([tab.waitForEvent("popup"), tab.click("#sign-in")]);
  await tab.waitForFunction(() => document.getElementById("who").dataset.state !== "idle", null, { timeout: 15_000 });
  browser.off("response", onResponse);
  if ((await tab.textContent("#who")) !== "signed in") await fail(`the returning visitor was not signed in: ${await tab.textContent("#who")}`);
  if (authorizeStatuses.length === 0 || authorizeStatuses.some((st) => st !== 303)) {
    await fail(`the returning visitor's authorization was not answered by a redirect alone: ${authorizeStatuses}`);
  }
  const returning = { pages: authorizeStatuses.filter((st) => st === 200).length };
  await tab.close();

  // Sign out: a form POST to the edge's end_session_endpoint (which answers 303 back here);
  // the ID token goes in the body, never in the URL.
  const logout = page.waitForRequest((r) => r.url().startsWith(`${origin}/oauth2/logout`), { timeout: 15_000 });
  await page.click("#sign-out");
  const logoutRequest = await logout;
  if (logoutRequest.method() !== "POST") await fail(`logout was a ${logoutRequest.method()}, not a form POST`);
  if (logoutRequest.url().includes("id_token_hint")) await fail("the ID token was put in the logout URL");
  if (!(logoutRequest.postData() ?? "").includes("id_token_hint=")) await fail("the logout form did not carry the ID token hint");
  const logoutResponse = await logoutRequest.response();
  if (logoutResponse?.status() !== 303) await fail(`logout answered ${logoutResponse?.status()}`);
  const signedOutTo = logoutResponse.headers()["location"];
  await page.waitForLoadState("load");
  await page.waitForFunction(() => document.getElementById("who")?.textContent === "signed out", null, { timeout: 15_000 });
  // Signing out ended the edge's session too: the next sign-in asks for the password.
  const [fresh] = await Promise.all([page.waitForEvent("popup"), page.click("#sign-in")]);
  await fresh.waitForSelector("#username", { timeout: 15_000 });
  await fresh.close();

  clearTimeout(timer);
  console.log(JSON.stringify({
    ok: true, dpop: true, tokenRequests: tokens.length, kid: meta.kid, tokenId: meta.tokenId, expires: meta.expires, urls: meta.urls,
    relayAddress: result.relayAddress, connectMs: Math.round(result.connectMs), usageBytes,
    loadToOpenMs: Math.round(result.openedAt), rttMs: result.rttMs, signedOutTo, returning,
  }));
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  await fail(e.stack ?? String(e));
}
