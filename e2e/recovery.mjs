// Account recovery in headless Chromium: sign up, confirm the address from the captured
// message (the local outbox, /admin/outbox), sign in on /account (a session), ask for a reset
// link ("forgot password" answers the same for an unknown address), set a new password with
// it once (a second use fails), and the earlier session is over; the new password works.
//
//   node e2e/recovery.mjs ORIGIN ADMIN_SECRET
//
// Prints one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [origin, admin] = process.argv.slice(2);
if (!origin || !admin) {
  console.error("usage: node e2e/recovery.mjs ORIGIN ADMIN_SECRET");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "edgeturn-recovery-"));
const args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run"];
const browser = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args });
let other = null;
const fail = async (msg) => {
  console.error(`recovery e2e: ${msg}`);
  await other?.close();
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out after 90 s"), 90_000);

/** The link in the newest message to `to` whose subject has `subject`, waiting for it. */
async function linkFor(to, subject, after = 0) {
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`${origin}/admin/outbox`, { headers: { authorization: `Bearer ${admin}` } });
    if (r.status !== 200) throw new Error(`outbox: HTTP ${r.status}`);
    const m = (await r.json()).messages.find((x) => x.to_addr === to && x.subject.includes(subject) && x.id > after);
    if (m) return { id: m.id, url: m.body.split("\n").find((l) => l.startsWith(`${origin}/`) && l.includes("token=")) };
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`no "${subject}" message to ${to}`);
}

try {
  const out = {};
  const page = await browser.newPage();
  const username = `rec-${Math.random().toString(36).slice(2, 10)}`;
  const email = `${username}@example.com`;
  const password = "correct horse battery staple";
  const newPassword = "a whole new passphrase";

  // Sign up with an address; a verification link arrives.
  await page.goto(`${origin}/signup`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.fill("#email", email);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#done");
  const verify = await linkFor(email, "Confirm");
  await page.goto(verify.url);
  out.verified = (await page.locator("#verified").count()) === 1;
  await page.goto(verify.url);
  out.verifyTwice = await page.textContent("h1");

  // Signed in on /account: a session in this browser.
  await page.goto(`${origin}/account`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#who");
  out.sessionsBefore = await page.locator(".session").count();

  // Another browser: "forgot password" (the same answer for an address with no account).
  other = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args });
  const tab = await (await other.newContext()).newPage();
  await tab.goto(`${origin}/account`);
  await tab.click('a[href="/forgot_password"]');
  await tab.fill("#email", `nobody-${username}@example.com`);
  await tab.click('button[type="submit"]');
  const unknownAnswer = await tab.textContent("#sent");
  await tab.goto(`${origin}/forgot_password`);
  await tab.fill("#email", email.toUpperCase());
  await tab.click('button[type="submit"]');
  out.sameAnswer = (await tab.textContent("#sent")) === unknownAnswer;
  const reset = await linkFor(email, "Reset", verify.id);
  await tab.goto(reset.url);
  await tab.fill("#password", newPassword);
  await tab.click('button[type="submit"]');
  await tab.waitForSelector("#password-changed");
  await tab.goto(reset.url);
  out.resetTwice = await tab.textContent("h1");

  // The first browser's session ended; the old password no longer works, the new one does.
  await page.goto(`${origin}/account`);
  out.signedOutBefore = (await page.locator("#who").count()) === 0;
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click('button[type="submit"]');
  await page.waitForSelector("[role=alert]");
  await page.fill("#username", username);
  await page.fill("#password", newPassword);
  await page.click('button[type="submit"]');
  await page.waitForSelector("#who");
  out.newPasswordWorks = (await page.textContent("#who")) === username;

  clearTimeout(timer);
  console.log(JSON.stringify({ ok: true, username, password: newPassword, ...out }));
  await other.close();
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  await fail(e.stack ?? String(e));
}
