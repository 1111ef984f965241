// Two Chromium browsers in two network namespaces (the NAT lab of relay-native/tests/nat_lab.rs),
// one call per scenario between them, SDP exchanged by this script through page.evaluate.
//
//   node e2e/nat-lab-chromium.mjs NS_A NS_B SCENARIOS_JSON [CA_PEM]
//
// Each browser is started through a wrapper, `ip netns exec NS /usr/bin/chromium "$@"`, so it
// lives in its namespace while playwright drives it over pipes. SCENARIOS_JSON is a file with
// a list of {name, a: {iceServers, relayOnly}, b: {iceServers, relayOnly}, media}. A offers a
// data channel (and, with media, a canvas video track); B echoes every message. With CA_PEM,
// both browsers trust that CA in their NSS database (for turns:).
//
// Prints one JSON line per scenario: {name, connected, sent, received, echoed, frames,
// aRelayed, a, b}: aRelayed the relayed addresses in A's offer, a and b the selected pairs. A call that does not connect is reported,
// not an error: the caller decides. Exits non-zero only when the harness itself fails.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [nsA, nsB, scenariosFile, caPem] = process.argv.slice(2);
if (!nsA || !nsB || !scenariosFile) {
  console.error("usage: node e2e/nat-lab-chromium.mjs NS_A NS_B SCENARIOS_JSON [CA_PEM]");
  process.exit(2);
}
const scenarios = JSON.parse(readFileSync(scenariosFile, "utf8"));
const MESSAGES = 20;
const work = mkdtempSync(join(tmpdir(), "nat-lab-chromium-"));

// Every wait in the page is bounded; the whole call gets CONNECT_MS to open its channel.
const CONNECT_MS = 12000;
const helpers = `
window.lab = {
  pc: null, dc: null, echoes: [], received: 0,
  async gathered(pc) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((res) => {
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && res());
      setTimeout(res, 8000);
    });
  },
  async offer(cfg, media) {
    const pc = this.pc = new RTCPeerConnection({ iceServers: cfg.iceServers, iceTransportPolicy: cfg.relayOnly ? "relay" : "all" });
    this.dc = pc.createDataChannel("lab");
    this.dc.onmessage = (m) => this.echoes.push(m.data);
    if (media) {
      const canvas = document.createElement("canvas");
      canvas.width = 160; canvas.height = 120;
      const ctx = canvas.getContext("2d");
      let i = 0;
      this.timer = setInterval(() => { ctx.fillStyle = "hsl(" + (i++ * 37 % 360) + ",80%,50%)"; ctx.fillRect(0, 0, 160, 120); }, 40);
      const stream = canvas.captureStream(25);
      pc.addTrack(stream.getVideoTracks()[0], stream);
    }
    await pc.setLocalDescription(await pc.createOffer());
    await this.gathered(pc);
    return pc.localDescription.toJSON();
  },
  async answer(cfg, offer) {
    const pc = this.pc = new RTCPeerConnection({ iceServers: cfg.iceServers, iceTransportPolicy: cfg.relayOnly ? "relay" : "all" });
    pc.ondatachannel = (e) => { e.channel.onmessage = (m) => { this.received++; e.channel.send("echo:" + m.data); }; };
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    return pc.localDescription.toJSON();
  },
  async complete(answer) { await this.pc.setRemoteDescription(answer); },
  async talk(n, ms) {
    const open = await new Promise((res) => {
      if (this.dc.readyState === "open") return res(true);
      this.dc.onopen = () => res(true);
      setTimeout(() => res(false), ms);
    });
    if (!open) return { connected: false, sent: 0, echoed: 0 };
    for (let i = 0; i < n; i++) this.dc.send("m" + i);
    const deadline = Date.now() + 10000;
    while (this.echoes.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return { connected: true, sent: n, echoed: this.echoes.length };
  },
  async frames(ms) {
    const deadline = Date.now() + ms;
    let frames = 0;
    while (Date.now() < deadline) {
      const s = await this.pc.getStats();
      s.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") frames = r.framesDecoded || 0; });
      if (frames >= 10) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return frames;
  },
  async pair() {
    const s = await this.pc.getStats(); let p = null;
    s.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) p = s.get(r.selectedCandidatePairId); });
    if (!p) return null;
    const local = s.get(p.localCandidateId), remote = s.get(p.remoteCandidateId);
    return { local: local.candidateType, address: local.address, relayProtocol: local.relayProtocol,
             remote: remote.candidateType, remoteAddress: remote.address };
  },
  close() { clearInterval(this.timer); this.pc && this.pc.close(); this.pc = null; this.echoes = []; this.received = 0; },
};`;

/// A browser in namespace `ns`, with its own home (and NSS database trusting caPem).
async function browserIn(ns) {
  const home = join(work, `home-${ns}`);
  mkdirSync(join(home, ".pki", "nssdb"), { recursive: true });
  if (caPem) {
    const db = `sql:${join(home, ".pki", "nssdb")}`;
    execFileSync("certutil", ["-N", "-d", db, "--empty-password"]);
    execFileSync("certutil", ["-A", "-d", db, "-n", "edgeturn lab CA", "-t", "C,,", "-i", caPem]);
  }
  const wrapper = join(work, `chromium-in-${ns}`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${ns}' /usr/bin/chromium "$@"\n`);
  chmodSync(wrapper, 0o755);
  const context = await chromium.launchPersistentContext(join(work, `profile-${ns}`), {
    executablePath: wrapper,
    headless: true,
    timeout: 30000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
    env: { ...process.env, HOME: home },
  });
  const page = context.pages()[0] ?? await context.newPage();
  await page.setContent(`<!doctype html><meta charset="utf-8"><title>nat lab</title><script>${helpers}</script>`);
  return { context, page };
}

async function call(a, b, sc) {
  try {
    const offer = await a.page.evaluate(([cfg, media]) => window.lab.offer(cfg, media), [sc.a, !!sc.media]);
    // The relayed addresses A's offer gives B (candidate: foundation component proto prio ADDRESS port typ relay).
    const aRelayed = offer.sdp.split("\r\n").filter((l) => l.startsWith("a=candidate:") && l.includes(" typ relay"))
      .map((l) => l.split(" ")[4]);
    const answer = await b.page.evaluate(([cfg, o]) => window.lab.answer(cfg, o), [sc.b, offer]);
    await a.page.evaluate((ans) => window.lab.complete(ans), answer);
    const talk = await a.page.evaluate(([n, ms]) => window.lab.talk(n, ms), [MESSAGES, CONNECT_MS]);
    const received = await b.page.evaluate(() => window.lab.received);
    const frames = sc.media && talk.connected ? await b.page.evaluate(() => window.lab.frames(10000)) : 0;
    const pa = await a.page.evaluate(() => window.lab.pair());
    const pb = await b.page.evaluate(() => window.lab.pair());
    return { name: sc.name, ...talk, received, frames, aRelayed, a: pa, b: pb };
  } finally {
    await a.page.evaluate(() => window.lab.close());
    await b.page.evaluate(() => window.lab.close());
  }
}

let code = 0;
const browsers = [];
try {
  browsers.push(await browserIn(nsA), await browserIn(nsB));
  const [a, b] = browsers;
  for (const sc of scenarios) console.log(JSON.stringify(await call(a, b, sc)));
} catch (e) {
  console.error(`nat-lab-chromium: ${e.message ?? e}`);
  code = 1;
} finally {
  for (const br of browsers) await br.context.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
process.exit(code);
