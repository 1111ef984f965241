// The edge's own pages in headless Chromium: /signup creates an account; /create_client signs
// in, registers a confidential app (its secret shown once, and it works), lists it and deletes
// it (and then it no longer works); /device takes the user code a device shows, signs in and
// approves, and the device's poll gets its tokens.
//
//   node e2e/oidc-pages.mjs ORIGIN DEVICE_CLIENT_ID
//
// Prints one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [origin, deviceClient] = process.argv.slice(2);
if (!origin || !deviceClient) {
  console.error("usage: node e2e/oidc-pages.mjs ORIGIN DEVICE_CLIENT_ID");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "edgeturn-pages-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
const fail = async (msg) => {
  console.error(`pages e2e: ${msg}`);
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out after 90 s"), 90_000);
const token = (fields) => fetch(`${origin}/oauth2/token`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const username = `pages-${Math.random().toString(36).slice(2, 10)}`;
  const password = "correct horse battery staple";

  // Sign up.
  await page.goto(`${origin}/signup`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.fill("#name", "Page Person");
  await page.fill("#email", `${username}@example.com`);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#done");
  if (!(await page.textContent("#done")).includes(username)) await fail("the sign-up page does not name the account");

  // Register a confidential app on /create_client.
  await page.goto(`${origin}/create_client`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#name");
  await page.fill("#name", "My server");
  await page.fill("#redirect_uris", "https://app.example/cb");
  await page.check("#type-confidential");
  await page.check('input[name="grant.client_credentials"]');
  await page.click('form:has(#name) button[type="submit"]');
  await page.waitForSelector("#client-secret");
  const clientId = await page.textContent("#client-id");
  const secret = await page.textContent("#client-secret");
  const listed = await page.locator(`li[data-client-id="${clientId}"]`).count();
  if (listed !== 1) await fail(`the new app is listed ${listed} times`);
  const works = await token({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: "openid" });
  if (works.status !== 200) await fail(`the registered app gets HTTP ${works.status} at the token endpoint`);

  // Delete it: gone from the list, the secret not shown again, and it stops working.
  await page.click(`li[data-client-id="${clientId}"] button[type="submit"]`);
  await page.waitForSelector(`li[data-client-id="${clientId}"]`, { state: "detached" });
  await page.waitForSelector("#apps", { state: "attached" });
  if (await page.locator(`li[data-client-id="${clientId}"]`).count() !== 0) await fail("the deleted app is still listed");
  if ((await page.content()).includes(secret)) await fail("the secret was shown again");
  const dead = await token({ grant_type: "client_credentials", client_id: clientId, client_secret: secret });
  if (dead.status !== 401) await fail(`the deleted app gets HTTP ${dead.status}, not 401`);

  // The device flow's verification page.
  const da = await (await fetch(`${origin}/oauth2/device_authorization`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: deviceClient, scope: "openid" }).toString(),
  })).json();
  const poll = () => token({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", client_id: deviceClient, device_code: da.device_code });
  const pending = await (await poll()).json();
  if (pending.error !== "authorization_pending") await fail(`before approval: ${JSON.stringify(pending)}`);
  await page.goto(da.verification_uri_complete);
  if ((await page.inputValue("#user_code")) !== da.user_code) await fail("the user code is not prefilled");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click('button[type="submit"]');
  const allow = page.locator('button[name="decision"][value="allow"]');
  await allow.waitFor();
  await allow.click();
  await page.waitForSelector("#approved");
  await new Promise((r) => setTimeout(r, (da.interval + 1) * 1000));
  const got = await poll();
  const tokens = await got.json();
  if (got.status !== 200 || !tokens.id_token) await fail(`after approval: HTTP ${got.status} ${JSON.stringify(tokens)}`);
  if (errors.length) await fail(`page errors: ${errors.join("; ")}`);

  clearTimeout(timer);
  console.log(JSON.stringify({ ok: true, username, clientId, userCode: da.user_code, deviceTokenType: tokens.token_type }));
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  await fail(e.stack ?? String(e));
}
