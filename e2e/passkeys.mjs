// Passkeys in headless Chromium with its virtual authenticator (CDP WebAuthn domain): sign in
// with a password on /account, register a passkey, sign out, sign in with the passkey (on
// /account, then on the authorization page, where the ID token's amr says so), and the edge
// refuses a replayed challenge, another origin, another RP ID and a counter going backwards.
//
//   node e2e/passkeys.mjs ORIGIN USERNAME PASSWORD CLIENT_ID REDIRECT_URI
//
// ORIGIN is the issuer (http://localhost:PORT: WebAuthn takes no IP address as RP ID). Prints
// one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from "playwright-core";
import { createHash, randomBytes } from "node:crypto";

const [origin, username, password, clientId, redirect] = process.argv.slice(2);
if (!redirect) {
  console.error("usage: node e2e/passkeys.mjs ORIGIN USERNAME PASSWORD CLIENT_ID REDIRECT_URI");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
const fail = async (msg) => {
  console.error(`passkeys e2e: ${msg}`);
  await browser.close();
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out after 120 s"), 120_000);
const b64u = (b) => Buffer.from(b).toString("base64url");
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

try {
  const out = {};
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  // Signed out (if signed in), on the account page's sign-in form.
  const signOut = async () => {
    await page.goto(`${origin}/account`);
    if (await page.locator("#sign-out").count()) {
      await page.click("#sign-out");
      await page.goto(`${origin}/account`);
    }
  };
  // The id of the page a passkey answer led to (refusals name the failed check).
  const outcome = async () => (await page.locator("p[id]").first().getAttribute("id")) ?? "";

  // Password sign-in, then register a passkey from the account page.
  await page.goto(`${origin}/account`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#who");
  await page.click("#add-passkey");
  await page.waitForSelector(".passkey", { timeout: 15_000 });
  out.passkeys = await page.locator(".passkey").count();
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  out.discoverable = credentials.length === 1 && credentials[0].isResidentCredential;

  // Sign out, then in with the passkey; remember the form post to replay it.
  await page.click("#sign-out");
  await page.waitForSelector("#signed-out");
  await page.goto(`${origin}/account`);
  let posted = null;
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/account" && (r.postData() ?? "").includes("action=passkey")) {
      posted = r.postData();
    }
  });
  await page.click("#passkey-sign-in");
  await page.waitForSelector("#who", { timeout: 15_000 });
  out.passkeySignIn = (await page.textContent("#who")) === username;
  out.sessionMethods = await page.locator(".session").first().textContent();

  // The same answer again: its challenge was used.
  const fields = new URLSearchParams(posted);
  const replay = await fetch(`${origin}/account`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: `edge_oauth_csrf=${fields.get("csrf")}` },
    body: posted,
  });
  const replayPage = await replay.text();
  out.replay = replayPage.match(/<p id="([a-z_]+)"/)?.[1] ?? `HTTP ${replay.status}`;

  // Answers rewritten on the way: another origin in the client data, another RP ID hash in
  // the authenticator data.
  const tamper = async (rewrite) => {
    await signOut();
    await page.route(`${origin}/account`, async (route) => {
      const body = route.request().postData() ?? "";
      if (route.request().method() !== "POST" || !body.includes("action=passkey")) return route.continue();
      const f = new URLSearchParams(body);
      rewrite(f);
      await route.continue({ postData: f.toString() });
    });
    await page.click("#passkey-sign-in");
    await page.waitForSelector("h1:has-text('Passkey refused')", { timeout: 15_000 });
    await page.unroute(`${origin}/account`);
    return outcome();
  };
  out.wrongOrigin = await tamper((f) => {
    const cd = JSON.parse(Buffer.from(f.get("client_data"), "base64url").toString());
    cd.origin = "http://evil.localhost:1";
    f.set("client_data", b64u(JSON.stringify(cd)));
  });
  out.wrongRpId = await tamper((f) => {
    const ad = Buffer.from(f.get("authenticator_data"), "base64url");
    createHash("sha256").update("evil.example").digest().copy(ad, 0);
    f.set("authenticator_data", b64u(ad));
  });

  // Sign in on the authorization page with the passkey: the ID token's amr says so.
  const verifier = b64u(randomBytes(32));
  const challenge = b64u(createHash("sha256").update(verifier).digest());
  const q = new URLSearchParams({
    response_type: "code", client_id: clientId, redirect_uri: redirect, scope: "openid", state: "pk",
    nonce: "n-pk", code_challenge: challenge, code_challenge_method: "S256", prompt: "login",
  });
  await page.goto(`${origin}/oauth2/authorize?${q}`);
  if (!(await page.locator("#passkey-sign-in").count())) await fail(`no passkey button: ${(await page.content()).slice(0, 1500)}`);
  await page.click("#passkey-sign-in");
  const allow = page.locator('button[name="decision"][value="allow"]');
  await allow.waitFor({ timeout: 15_000 });
  // The answer redirects to the app (nothing listens there): read the code from it.
  const [back] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/oauth2/authorize" && r.status() === 303),
    allow.click({ noWaitAfter: true }),
  ]);
  const code = new URL(back.headers().location).searchParams.get("code");
  const tokens = await (await fetch(`${origin}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: clientId, code, redirect_uri: redirect, code_verifier: verifier }),
  })).json();
  if (!tokens.id_token) await fail(`no ID token: ${JSON.stringify(tokens)}`);
  const idc = claims(tokens.id_token);
  out.idToken = { amr: idc.amr, acr: idc.acr, sub: idc.sub, sid: idc.sid ?? null };

  // The authenticator's counter goes backwards (a clone): refused.
  const [cred] = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  await cdp.send("WebAuthn.removeCredential", { authenticatorId, credentialId: cred.credentialId });
  await cdp.send("WebAuthn.addCredential", { authenticatorId, credential: { ...cred, signCount: 0 } });
  await signOut();
  await page.click("#passkey-sign-in");
  await page.waitForSelector("h1:has-text('Passkey refused')", { timeout: 15_000 });
  out.counterBack = await outcome();

  clearTimeout(timer);
  console.log(JSON.stringify({ ok: true, ...out }));
  await browser.close();
} catch (e) {
  await fail(e.stack ?? String(e));
}
