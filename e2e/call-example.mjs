// The examples against the local edge and relay, in Chromium with its fake camera:
//
// 1. examples/call on its own origin imports the helper from the edge (cross-origin), and two
//    tabs sign in and call each other with video, relay-only, signalling over a
//    BroadcastChannel. Frames must be decoded on both sides over relay <-> relay pairs; then,
//    when the (short-lived) credentials roll over, both tabs restart ICE with the new ones and
//    the video goes on over new relay allocations.
// 2. The Vite-built app (from the npm tarball) signs in and gathers a relay candidate.
//
//   node e2e/call-example.mjs CALL_URL VITE_PORT VITE_DIST USERNAME PASSWORD
//
// CALL_URL is where examples/call is served, with its `?edge=` (as `cargo xtask run` prints it);
// the Vite app's dist is served here on 127.0.0.1:VITE_PORT.
//
// Prints one JSON line (token ids, pairs, counters); exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { serve } from "../examples/serve.mjs";
import { signInThroughPopup } from "./signin-popup.mjs";

const [callUrl, vitePort, viteDist, username, password] = process.argv.slice(2);
if (!password) {
  console.error("usage: node e2e/call-example.mjs CALL_URL VITE_PORT VITE_DIST USERNAME PASSWORD");
  process.exit(2);
}
const edge = new URL(callUrl).searchParams.get("edge");
const viteApp = await serve(viteDist, Number(vitePort));
const profile = mkdtempSync(join(tmpdir(), "edgeturn-call-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--allow-loopback-in-peer-connection", "--disable-gpu", "--disable-quic",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
         "--autoplay-policy=no-user-gesture-required",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const done = async (code) => {
  await browser.close();
  await viteApp.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(code);
};
const fail = async (msg) => {
  console.error(`call example: ${msg}`);
  await done(1);
};
const timer = setTimeout(() => fail("timed out after 150 s"), 150_000);

/** Polls `probe` (in Node) until it returns something truthy. */
async function until(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} (waited ${timeoutMs / 1000} s)`);
    await sleep(250);
  }
}

async function openTab(name) {
  const page = await browser.newPage();
  const errors = [];
  const imported = [];
  page.on("pageerror", (e) => errors.push(`${name}: ${e}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`${name} console: ${m.text()}`));
  page.on("requestfinished", (r) => r.url().startsWith(`${edge}/pkg/`) && imported.push(r.url()));
  await page.goto(callUrl);
  await page.waitForFunction(() => window.call?.state === "signed-out", null, { timeout: 15_000 });
  return { name, page, errors, imported };
}

const callState = (tab) => tab.page.evaluate(() => ({ ...window.call }));
const callStats = (tab) => tab.page.evaluate(() => window.callStats());
const relayed = (s) => s && s.localType === "relay" && s.remoteType === "relay";

try {
  // Two tabs of the example's origin, each signed in through the edge's popup.
  const tabs = [await openTab("tab A"), await openTab("tab B")];
  for (const tab of tabs) {
    await signInThroughPopup(tab.page, "#sign-in", username, password);
  }
  for (const tab of tabs) {
    const origin = new URL(await tab.page.url()).origin;
    if (origin === edge) await fail("the example runs on the edge's origin; it must have its own");
    const want = ["/pkg/edgeturn.js", "edgeturn_bg.wasm"];
    const missing = want.filter((w) => !tab.imported.some((u) => u.includes(w)));
    if (missing.length) await fail(`${tab.name} did not load ${missing.join(", ")} from ${edge} (loaded: ${tab.imported.join(", ")})`);
  }

  // The call: connected, relay <-> relay on both sides, video frames decoded on both sides.
  const first = [];
  for (const tab of tabs) {
    await until(`${tab.name} never connected: ${JSON.stringify(await callState(tab))}`,
      async () => (await callState(tab)).connected > 0, 30_000);
    first.push(await until(`${tab.name} decoded no frames over relay <-> relay: ${JSON.stringify(await callStats(tab))}`,
      async () => { const s = await callStats(tab); return relayed(s) && s.framesDecoded > 0 && s; }, 20_000));
  }

  // The credentials roll over (the edge issues them for a short time here): each tab gets new
  // servers from autoRefresh, restarts ICE, and the video continues over new allocations.
  const after = [];
  for (const tab of tabs) {
    await until(`${tab.name} never restarted ICE with new credentials: ${JSON.stringify(await callState(tab))}`,
      async () => (await callState(tab)).restarts > 0, 60_000);
  }
  for (const [i, tab] of tabs.entries()) {
    after.push(await until(
      `${tab.name} did not go on over a new relay allocation after the ICE restart: before ${JSON.stringify(first[i])}, now ${JSON.stringify(await callStats(tab))}`,
      async () => {
        const s = await callStats(tab);
        return relayed(s) && s.localAddress !== first[i].localAddress && s.framesDecoded > first[i].framesDecoded + 10 && s;
      }, 30_000));
  }
  const states = await Promise.all(tabs.map(callState));
  for (const [i, s] of states.entries()) {
    if (s.tokenIds.length < 2 || new Set(s.tokenIds).size !== s.tokenIds.length) {
      await fail(`${tabs[i].name} did not get fresh token ids on refresh: ${s.tokenIds}`);
    }
  }

  // The Vite app, built from the npm tarball, on a third origin.
  const vite = await browser.newPage();
  const viteErrors = [];
  vite.on("pageerror", (e) => viteErrors.push(String(e)));
  await vite.goto(`${viteApp.url}/`);
  await vite.waitForFunction(() => window.edgeturnVite?.state === "ready", null, { timeout: 15_000 });
  await signInThroughPopup(vite, "#sign-in", username, password);
  await vite.waitForFunction(() => ["ok", "error"].includes(window.edgeturnVite.state), null, { timeout: 20_000 });
  const viteResult = await vite.evaluate(() => ({ ...window.edgeturnVite }));
  if (viteResult.state !== "ok" || viteResult.candidateType !== "relay") {
    await fail(`the Vite app gathered no relay candidate: ${JSON.stringify(viteResult)}`);
  }
  const viteAssets = await vite.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name));
  if (!viteAssets.some((u) => u.startsWith(viteApp.url) && u.endsWith(".wasm"))) {
    await fail(`the Vite app did not load its own bundled wasm: ${viteAssets.join(", ")}`);
  }

  const errors = [...tabs.flatMap((t) => t.errors), ...viteErrors];
  if (errors.length) await fail(`page errors: ${errors.join("; ")}`);
  clearTimeout(timer);
  // The relay must have allocated under each of these (the xtask checks its log).
  const relayTokenIds = [...states.flatMap((s) => s.tokenIds.slice(0, 2)), viteResult.tokenId];
  console.log(JSON.stringify({
    ok: true,
    relayTokenIds: relayTokenIds.join(" "),
    restarts: states.map((s) => s.restarts),
    before: first.map(({ localAddress, remoteAddress, framesDecoded }) => ({ localAddress, remoteAddress, framesDecoded })),
    after: after.map(({ localAddress, remoteAddress, framesDecoded, relayProtocol }) => ({ localAddress, remoteAddress, framesDecoded, relayProtocol })),
    viteTokenId: viteResult.tokenId,
  }));
  await done(0);
} catch (e) {
  await fail(e.stack ?? String(e));
}
