// The operator console at /console in headless Chromium: an admin signs in through the edge's
// own code flow (sign-in and consent pages), manages people and apps, sees a relay and its
// usage, and finds each change in the audit view; a person without the console:admin right
// is refused. Screenshots of every view go to shots.
//
//   node e2e/console.mjs '{"phase":"before"|"after"|"drain","origin":..,"admin":..,"password":..,
//                          "plain":..,"plainPassword":..,"shots":DIR,"relay":RELAY_ID?,
//                          "baseline":BYTES?,"victim":USER_ID?,...}'
//
// "before": the refusal, People, Apps, Relays (when a relay is named: it is listed after its
// heartbeat) and the usage total so far. "after" (once the caller relayed traffic): the usage
// chart grew past "baseline" (when a relay is named), the CSV export, and the Audit view finds
// each change. "drain": Drain on the named relay, until the relay itself reports draining (the
// heartbeat's reply told it to), and the drain in the audit view. Prints one JSON line with what it saw; exits non-zero on
// any failure.
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = JSON.parse(process.argv[2] ?? "{}");
const { phase, origin, admin, shots } = args;
const adminPw = args.password, plain = args.plain, plainPw = args.plainPassword, relayId = args.relay;
if (!origin || !shots || !["before", "after", "drain"].includes(phase)) {
  console.error("usage: node e2e/console.mjs '{\"phase\":\"before\",\"origin\":..,...}'");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "edgeturn-console-"));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
const fail = async (msg) => {
  console.error(`console e2e: ${msg}`);
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out after 150 s"), 150_000);
const seen = {};
const urls = [];

// Goes to /console and signs in on the edge's own pages; returns the page after consent.
async function signIn(context, username, password) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => urls.push(r.url()));
  page.on("console", (m) => { if (m.type() === "error" && !/status of 40[03]/.test(m.text())) errors.push(m.text()); });
  await page.goto(`${origin}/console`);
  if (!page.url().startsWith(`${origin}/oauth2/authorize`)) await fail(`/console went to ${page.url()}, not the authorization endpoint`);
  const url = new URL(page.url());
  if (url.searchParams.get("client_id") !== "edge-console" || url.searchParams.get("code_challenge_method") !== "S256")
    await fail(`the console's authorization request: ${page.url()}`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click('button[type="submit"]');
  // The consent page, unless this person allowed the console before (a remembered consent
  // answers at once, docs/edge-oauth.md "Sessions").
  const allow = page.locator('button[name="decision"][value="allow"]');
  // The callback redirects to a view, or shows the refusal itself.
  const consoleView = page.waitForURL((u) => u.pathname.startsWith("/console/"));
  const asked = await Promise.race([allow.waitFor().then(() => true), consoleView.then(() => false)]);
  if (asked) {
    await allow.click();
    await consoleView;
  }
  await page.waitForLoadState("load");
  return { page, errors };
}

const shot = (page, name) => page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });

try {
  const ctx = await browser.newContext();
  const { page, errors } = await signIn(ctx, admin, adminPw);
  if (!page.url().startsWith(`${origin}/console/people`)) await fail(`after sign-in: ${page.url()}`);
  if ((await page.textContent("#who")) !== admin) await fail("the console does not name the admin");
  if (phase === "before") await before(ctx, page);
  else if (phase === "drain") await drain(page);
  else await after(ctx, page);
  if (errors.length) await fail(`page errors: ${errors.join("; ")}`);
  clearTimeout(timer);
  console.log(JSON.stringify({ ok: true, ...seen }));
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  await fail(e.stack ?? String(e));
}

async function before(ctx, page) {
  // A person without the right is refused.
  {
    const ctx = await browser.newContext();
    const { page } = await signIn(ctx, plain, plainPw);
    const title = await page.textContent("h1");
    if (!title.includes("Not allowed")) await fail(`a person without the right sees "${title}" at ${page.url()}`);
    const again = await page.goto(`${origin}/console/people`);
    if (again.status() === 200 && (await page.content()).includes("Revoke everything")) await fail("the refused person reached the people view");
    await shot(page, "refused");
    seen.refused = true;
    await ctx.close();
  }

  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === "edge_console");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") await fail(`session cookie: ${JSON.stringify(session)}`);
  const headers = (await page.goto(`${origin}/console/people`)).headers();
  if (!headers["content-security-policy"].includes("frame-ancestors 'none'")) await fail("no frame-ancestors 'none'");

  // People: create someone, give them a right, revoke everything of theirs, disable them.
  const victim = `victim-${Math.random().toString(36).slice(2, 8)}`;
  await page.click("details summary");
  await page.fill("#new-username", victim);
  await page.fill("#new-password", "correct horse battery");
  await page.click("#create-person");
  await page.waitForSelector("#notice");
  const row = page.locator(`tr[data-username="${victim}"]`);
  if ((await row.count()) !== 1) await fail("the new person is not listed");
  const victimId = await row.getAttribute("data-user");
  await row.locator('input[name="rights"]').fill("api:read");
  await row.locator('button:has-text("Set rights")').click();
  await page.waitForSelector("#notice");
  if ((await page.locator(`tr[data-user="${victimId}"] input[name="rights"]`).inputValue()) !== "api:read") await fail("rights not set");
  await page.locator(`tr[data-user="${victimId}"] button.revoke`).click();
  await page.waitForSelector("#notice");
  if (!(await page.textContent("#notice")).includes("revoked")) await fail(`revoke: ${await page.textContent("#notice")}`);
  await page.locator(`tr[data-user="${victimId}"] button:has-text("Disable")`).click();
  await page.waitForSelector("#notice");
  if (!(await page.locator(`tr[data-user="${victimId}"] .state`).textContent()).includes("disabled")) await fail("not shown disabled");
  // Disabled, they cannot sign in (the same answer as a wrong password).
  {
    const other = await browser.newContext();
    const p = await other.newPage();
    await p.goto(`${origin}/console`);
    await p.fill("#username", victim);
    await p.fill("#password", "correct horse battery");
    await p.click('button[type="submit"]');
    await p.waitForSelector(".err");
    if ((await p.locator('button[name="decision"]').count()) !== 0) await fail("a disabled person signed in");
    await other.close();
  }
  // Search finds them.
  await page.goto(`${origin}/console/people?q=${encodeURIComponent(victim)}`);
  if ((await page.locator("#people tr[data-user]").count()) !== 1) await fail("search does not narrow to one person");
  await shot(page, "people");
  seen.victim = victimId;

  // The admin's own sign-in sessions (the edge's sessions from signing in to the console, one
  // more from a second browser): listed with the browser; one ended, then all (the console's
  // own session is apart and stays).
  {
    const second = await browser.newContext();
    await signIn(second, admin, adminPw);
    await second.close();
  }
  await page.goto(`${origin}/console/people?q=${encodeURIComponent(admin)}`);
  await page.locator(`tr[data-user="${args.adminId}"] a.sessions`).click();
  const sessions = page.locator(`#person-sessions[data-user="${args.adminId}"] tr.session`);
  const listed = await sessions.count();
  if (listed < 2) await fail(`the admin's two sign-in sessions are not listed (${listed})`);
  if (!(await sessions.first().locator(".agent").textContent()).includes("Chrome")) await fail("the session's browser is not shown");
  await shot(page, "person-sessions");
  await sessions.first().locator("button.end-session").click();
  await page.locator("#notice", { hasText: "Session" }).waitFor();
  if ((await sessions.count()) !== listed - 1) await fail(`one session ended, ${await sessions.count()} of ${listed} left`);
  await page.click("#end-sessions");
  await page.locator("#notice", { hasText: "Every sign-in session" }).waitFor();
  if ((await page.locator("#no-sessions").count()) !== 1) await fail("sessions left after End all sessions");

  // A post without the CSRF token is refused.
  // (From outside the page: its CSP lets no script connect anywhere.)
  const forged = (await fetch(`${origin}/console/people`, {
    method: "POST", redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: `edge_console=${session.value}` },
    body: "action=revoke&user_id=u_x",
  })).status;
  if (forged !== 403) await fail(`a post without the CSRF token got ${forged}`);

  // Apps: a relay app (client_credentials with its secret shown once), its secret rotated
  // (the old one stops working, the new one works); a web app whose redirect URIs change,
  // then deleted.
  const token = (fields) => fetch(`${origin}/oauth2/token`, {
    method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  await page.goto(`${origin}/console/apps`);
  await page.click("#create summary");
  await page.selectOption("#kind", "relay");
  await page.fill("#app-name", "Relay from the console");
  await page.click("#create-app");
  await page.waitForSelector("#secret");
  const relayClient = (await page.textContent("#secret-client")).trim();
  const first = (await page.textContent("#secret")).trim();
  const cc = (secret) => token({ grant_type: "client_credentials", client_id: relayClient, client_secret: secret, scope: "relay" });
  if ((await cc(first)).status !== 200) await fail("the new relay app's secret does not work");
  if ((await page.locator(`tr[data-client="${relayClient}"] .kind`).textContent()) !== "relay") await fail("not listed as a relay");
  await page.locator(`tr[data-client="${relayClient}"] button.rotate`).click();
  await page.locator("#notice", { hasText: "New secret" }).waitFor();
  const second = (await page.textContent("#secret")).trim();
  if (second === first) await fail("rotation kept the secret");
  if ((await cc(first)).status !== 401) await fail("the old secret still works after rotation");
  if ((await cc(second)).status !== 200) await fail("the rotated secret does not work");
  await shot(page, "apps");
  // Post/Redirect/Get: the post answered 303 to the view, so a reload is a GET that shows
  // neither the notice nor the secret again; no URL ever carried a secret.
  if (page.url() !== `${origin}/console/apps`) await fail(`after the post: ${page.url()}`);
  const reloaded = await page.reload();
  if (reloaded.request().method() !== "GET") await fail("a reload posts again");
  if ((await page.content()).includes(second) || (await page.locator("#notice").count()) !== 0) await fail("a reload showed the notice or the secret again");
  if (urls.some((u) => u.includes(first) || u.includes(second))) await fail("a secret was in a URL");
  await page.goto(`${origin}/console/apps`);
  if ((await page.content()).includes(second)) await fail("the secret was shown again");
  seen.relayClient = relayClient;
  seen.relaySecret = second;

  await page.click("#create summary");
  await page.selectOption("#kind", "confidential");
  await page.fill("#app-name", "Web app");
  await page.fill("#app-scopes", "openid");
  await page.fill("#app-redirects", "https://web.example/cb");
  await page.click("#create-app");
  await page.waitForSelector("#secret");
  const webClient = (await page.textContent("#secret-client")).trim();
  const web = page.locator(`tr[data-client="${webClient}"]`);
  await web.locator('textarea[name="redirect_uris"]').fill("https://web.example/cb\nhttps://web.example/other");
  await web.locator('button:has-text("Save URIs")').click();
  await page.waitForSelector("#notice");
  if (!(await page.locator(`tr[data-client="${webClient}"] textarea[name="redirect_uris"]`).inputValue()).includes("/other")) await fail("redirect URIs not saved");
  // Its RFC 8707 resources: a URI with a fragment is refused (the admin API's rule), two are saved.
  const resources = () => page.locator(`tr[data-client="${webClient}"] textarea[name="resources"]`);
  await resources().fill("https://api.web.example/#part");
  await page.locator(`tr[data-client="${webClient}"] button:has-text("Save resources")`).click();
  await page.locator("#notice.err", { hasText: "fragment" }).waitFor();
  await resources().fill("https://api.web.example/\nurn:example:media");
  await page.locator(`tr[data-client="${webClient}"] button:has-text("Save resources")`).click();
  await page.locator("#notice", { hasText: "Resources of" }).waitFor();
  if ((await resources().inputValue()) !== "https://api.web.example/\nurn:example:media") await fail(`resources not saved: ${await resources().inputValue()}`);
  await page.locator(`tr[data-client="${webClient}"] button.delete`).click();
  await page.waitForSelector("#notice");
  if ((await page.locator(`tr[data-client="${webClient}"]`).count()) !== 0) await fail("the deleted app is still listed");
  seen.webClient = webClient;

  // Relays: the relay is listed after its heartbeat (drained in the "drain" phase).
  await page.goto(`${origin}/console/relays`);
  if (relayId) {
    const relay = page.locator(`tr[data-relay="${relayId}"]`);
    if ((await relay.count()) !== 1) await fail(`relay ${relayId} is not listed`);
    if ((await relay.locator(".state").textContent()) !== "healthy") await fail(`relay state: ${await relay.locator(".state").textContent()}`);
  }
  await shot(page, "relays");

  // Usage so far.
  await page.goto(`${origin}/console/usage`);
  seen.baseline = Number(await page.getAttribute("#usage-total", "data-bytes"));
  if (Number(await page.getAttribute("#chart-bytes", "data-total")) !== seen.baseline) await fail("the chart and the total differ");
}

async function after(ctx, page) {
  // Usage grew past the baseline, per app and per person; the CSV export carries it.
  await page.goto(`${origin}/console/usage`);
  const total = Number(await page.getAttribute("#usage-total", "data-bytes"));
  const chart = Number(await page.getAttribute("#chart-bytes", "data-total"));
  if (chart !== total) await fail(`the chart (${chart}) and the total (${total}) differ`);
  if (relayId && !(total > Number(args.baseline))) await fail(`usage did not grow: ${total} after ${args.baseline}`);
  seen.usageBytes = total;
  await shot(page, "usage");
  // A small one for the docs (docs/img/console-usage.png): the header and the bytes chart.
  await page.screenshot({ path: join(shots, "console-usage-small.png"), clip: { x: 0, y: 0, width: 800, height: 520 } });
  await page.goto(`${origin}/console/usage?per=person`);
  if (Number(await page.getAttribute("#chart-bytes", "data-total")) !== total) await fail("per person sums differently");
  const cookie = (await ctx.cookies()).find((c) => c.name === "edge_console");
  const csv = await fetch(`${origin}/console/usage.csv`, { headers: { cookie: `edge_console=${cookie.value}` } });
  const text = await csv.text();
  if (csv.status !== 200 || !csv.headers.get("content-type").startsWith("text/csv") || !text.startsWith("day,client_id,")) await fail(`CSV: ${csv.status} ${text.slice(0, 80)}`);
  const csvBytes = text.trim().split("\r\n").slice(1).map((l) => l.split(",")).reduce((a, f) => a + Number(f[4]) + Number(f[6]), 0);
  if (csvBytes !== total) await fail(`the CSV sums to ${csvBytes}, the view to ${total}`);

  // Audit: each change, found by filtering.
  const find = async (query, event, attr, value) => {
    await page.goto(`${origin}/console/audit?${new URLSearchParams(query)}`);
    const rows = page.locator(`#audit tr[data-event="${event}"][data-${attr}="${value}"]`);
    if ((await rows.count()) < 1) await fail(`no ${event} for ${value} when filtering ${JSON.stringify(query)}`);
    if ((await rows.first().getAttribute("data-actor")) !== args.adminId && event !== "console.signed_in") await fail(`${event} not by the admin`);
  };
  await find({ person: args.victim }, "user.created", "user", args.victim);
  await find({ person: args.victim, kind: "user" }, "user.rights_set", "user", args.victim);
  await find({ person: args.victim, kind: "families.revoked" }, "families.revoked", "user", args.victim);
  await find({ person: args.victim }, "user.disabled", "user", args.victim);
  await find({ person: args.adminId, kind: "session" }, "session.ended", "user", args.adminId);
  await find({ app: args.relayClient }, "client.created", "client", args.relayClient);
  await find({ app: args.relayClient, kind: "client" }, "client.secret_rotated", "client", args.relayClient);
  await find({ app: args.webClient }, "client.redirect_uris_set", "client", args.webClient);
  await find({ app: args.webClient }, "client.resources_set", "client", args.webClient);
  await find({ app: args.webClient }, "client.deleted", "client", args.webClient);
  await find({ person: args.adminId, kind: "console" }, "console.signed_in", "user", args.adminId);
  // Newest first, and paged.
  await page.goto(`${origin}/console/audit`);
  const ids = await page.locator("#audit tr[data-event] td:first-child").allTextContents();
  if (ids.map(Number).some((id, i, a) => i > 0 && id >= a[i - 1])) await fail("audit rows are not newest first");
  if ((await page.locator("#older").count()) === 1) {
    await page.click("#older");
    const next = await page.locator("#audit tr[data-event] td:first-child").allTextContents();
    if (!next.length || Number(next[0]) >= Number(ids[ids.length - 1])) await fail("the next page does not go on");
  }
  await page.goto(`${origin}/console/audit?person=${encodeURIComponent(args.victim)}`);
  await shot(page, "audit");
}

async function drain(page) {
  await page.goto(`${origin}/console/relays`);
  const state = () => page.locator(`tr[data-relay="${relayId}"] .state`).textContent();
  await page.locator(`tr[data-relay="${relayId}"] button.drain`).click();
  await page.waitForSelector("#notice");
  seen.asked = await state();
  if (!["drain requested", "draining (from the console)"].includes(seen.asked)) await fail(`after Drain: ${seen.asked}`);
  // The relay learns it from its next heartbeat's reply and reports draining.
  const until = Date.now() + 30_000;
  while ((await state()) !== "draining (from the console)") {
    if (Date.now() > until) await fail(`the relay never reported draining: ${await state()}`);
    await new Promise((r) => setTimeout(r, 500));
    await page.goto(`${origin}/console/relays`);
  }
  seen.state = await state();
  await shot(page, "relays-draining");
  await page.goto(`${origin}/console/audit?kind=relay`);
  const rows = page.locator(`#audit tr[data-event="relay.drain"][data-actor="${args.adminId}"]`);
  if ((await rows.count()) < 1) await fail("no relay.drain by the admin in the audit view");
}
