// Driving the edge's HTML forms over plain HTTP, as a browser would (for scripts that test
// the protocols around them; the pages themselves are driven in Chromium elsewhere).

/** The value of a hidden input. */
export function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no hidden field ${name} in: ${html.slice(0, 300)}`);
  return m[1].replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/** The `name=value` of the Set-Cookie header. */
export function cookieOf(resp) {
  const c = resp.headers.get("set-cookie");
  if (!c) throw new Error(`no Set-Cookie (HTTP ${resp.status})`);
  return c.split(";")[0];
}

/** POSTs a form without following redirects. */
export async function postForm(url, cookie, fields) {
  return fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Signs in and consents on the authorization pages; returns the redirect back. */
export async function authorize(url, username, password) {
  const page = await fetch(url, { redirect: "manual" });
  if (page.status !== 200) throw new Error(`authorize: HTTP ${page.status}: ${await page.text()}`);
  const cookie = cookieOf(page);
  const html = await page.text();
  const action = new URL("/oauth2/authorize", url).toString();
  const login = await postForm(action, cookie, {
    action: "login", form_state: hidden(html, "form_state"), csrf: hidden(html, "csrf"), username, password,
  });
  // A person who allowed this app and scope before is not asked again.
  if (login.status === 303) return login.headers.get("location");
  const consentHtml = await login.text();
  if (login.status !== 200) throw new Error(`sign-in: HTTP ${login.status}: ${consentHtml.slice(0, 300)}`);
  const done = await postForm(action, cookie, {
    action: "consent", form_state: hidden(consentHtml, "form_state"), csrf: hidden(consentHtml, "csrf"), decision: "allow",
  });
  if (done.status !== 303) throw new Error(`consent: HTTP ${done.status}`);
  return done.headers.get("location");
}

/** The `name=value` of the session cookie a response sets (`edge_session` or
 * `__Host-edge_session`), or null. */
export function sessionCookieOf(resp) {
  for (const c of resp.headers.getSetCookie?.() ?? [resp.headers.get("set-cookie") ?? ""]) {
    const pair = c.split(";")[0];
    if (/^(__Host-)?edge_session=/.test(pair)) return pair;
  }
  return null;
}

/** Like `authorize`, and returns the session cookie the sign-in set:
 * `{ location, session }`. */
export async function authorizeWithSession(url, username, password) {
  const page = await fetch(url, { redirect: "manual" });
  if (page.status !== 200) throw new Error(`authorize: HTTP ${page.status}: ${await page.text()}`);
  const cookie = cookieOf(page);
  const html = await page.text();
  const action = new URL("/oauth2/authorize", url).toString();
  const login = await postForm(action, cookie, {
    action: "login", form_state: hidden(html, "form_state"), csrf: hidden(html, "csrf"), username, password,
  });
  const session = sessionCookieOf(login);
  if (!session) throw new Error(`sign-in set no session cookie (HTTP ${login.status})`);
  if (login.status === 303) return { location: login.headers.get("location"), session };
  const consentHtml = await login.text();
  if (login.status !== 200) throw new Error(`sign-in: HTTP ${login.status}: ${consentHtml.slice(0, 300)}`);
  const done = await postForm(action, `${cookie}; ${session}`, {
    action: "consent", form_state: hidden(consentHtml, "form_state"), csrf: hidden(consentHtml, "csrf"), decision: "allow",
  });
  if (done.status !== 303) throw new Error(`consent: HTTP ${done.status}`);
  return { location: done.headers.get("location"), session };
}

/** GETs an authorization URL with a session cookie and no page in between:
 * `{ status, location, html }` (a redirect's Location, or the page a person would see). */
export async function authorizeSilently(url, session) {
  const r = await fetch(url, { redirect: "manual", headers: session ? { cookie: session } : {} });
  return { status: r.status, location: r.headers.get("location"), html: r.status === 200 ? await r.text() : "" };
}

/** Enters a user code on /device, signs in, and answers `decision` ("allow" or "deny"). */
export async function answerDevice(verificationUriComplete, username, password, decision) {
  const page = await fetch(verificationUriComplete, { redirect: "manual" });
  if (page.status !== 200) throw new Error(`device page: HTTP ${page.status}`);
  const cookie = cookieOf(page);
  const html = await page.text();
  const code = html.match(/name="user_code" value="([^"]*)"/)?.[1];
  if (!code) throw new Error("the device page did not prefill the user code");
  const action = new URL("/device", verificationUriComplete).toString();
  const login = await postForm(action, cookie, {
    action: "login", form_state: hidden(html, "form_state"), csrf: hidden(html, "csrf"), user_code: code, username, password,
  });
  const consent = await login.text();
  if (login.status !== 200) throw new Error(`device sign-in: HTTP ${login.status}: ${consent.slice(0, 300)}`);
  const done = await postForm(action, cookie, {
    action: "decide", form_state: hidden(consent, "form_state"), csrf: hidden(consent, "csrf"), decision,
  });
  if (done.status !== 200) throw new Error(`device decision: HTTP ${done.status}`);
}
