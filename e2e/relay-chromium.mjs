// Chromium's own WebRTC stack through relay-native: two relay-only RTCPeerConnections in one
// page, a data channel, and the selected candidate pair on both ends must be relay <-> relay.
//
//   node e2e/relay-chromium.mjs TURN_URL USERNAME CREDENTIAL [CA_PEM]
//
// With CA_PEM (for a turns: URL), Chromium trusts that CA the way a user or an
// administrator makes it trust one on Linux: as a trusted root in the NSS database of the
// browser's home (certutil, Debian package libnss3-tools), not by ignoring certificate errors.
//
// Prints one JSON line; exits non-zero on failure.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, username, credential, caPem] = process.argv.slice(2);
if (!url || !username || !credential) {
  console.error("usage: node e2e/relay-chromium.mjs TURN_URL USERNAME CREDENTIAL [CA_PEM]");
  process.exit(2);
}

// A home of its own for the browser, with an NSS database that trusts caPem (if given).
const home = mkdtempSync(join(tmpdir(), "relay-chromium-home-"));
if (caPem) {
  const db = `sql:${join(home, ".pki", "nssdb")}`;
  mkdirSync(join(home, ".pki", "nssdb"), { recursive: true });
  try {
    execFileSync("certutil", ["-N", "-d", db, "--empty-password"]);
    execFileSync("certutil", ["-A", "-d", db, "-n", "edgeturn test CA", "-t", "C,,", "-i", caPem]);
  } catch (e) {
    console.error(`relay-chromium: certutil failed (install the Debian package libnss3-tools: cargo xtask setup): ${e.message}`);
    process.exit(2);
  }
}

const page = `<!doctype html><meta charset="utf-8"><title>relay test</title><script>
window.run = async (iceServers) => {
  const config = { iceServers, iceTransportPolicy: "relay" };
  const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const received = [];
  b.ondatachannel = (e) => { e.channel.onmessage = (m) => { received.push(m.data); e.channel.send("echo:" + m.data); }; };
  const dc = a.createDataChannel("t");
  const echoes = [];
  dc.onmessage = (m) => echoes.push(m.data);
  const opened = new Promise((res, rej) => { dc.onopen = res; setTimeout(() => rej(new Error("no relayed connection in 15 s")), 15000); });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await opened;
  for (let i = 0; i < 20; i++) dc.send("m" + i);
  const deadline = Date.now() + 10000;
  while (echoes.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const pair = async (pc) => {
    const s = await pc.getStats(); let p = null;
    s.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) p = s.get(r.selectedCandidatePairId); });
    if (!p) throw new Error("no selected pair");
    const local = s.get(p.localCandidateId);
    return { local: local.candidateType, remote: s.get(p.remoteCandidateId).candidateType,
             relayProtocol: local.relayProtocol, address: local.address };
  };
  const result = { received: received.length, echoed: echoes.length, a: await pair(a), b: await pair(b) };
  a.close(); b.close();
  return result;
};
</script>`;

const server = createServer((_, res) => { res.writeHead(200, { "content-type": "text/html" }); res.end(page); });
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;
const profile = mkdtempSync(join(tmpdir(), "relay-chromium-"));
let code = 0;
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--allow-loopback-in-peer-connection", "--disable-gpu", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  env: { ...process.env, HOME: home },
});
try {
  const p = await browser.newPage();
  await p.goto(origin);
  const r = await p.evaluate((servers) => window.run(servers), [{ urls: [url], username, credential }]);
  console.log(JSON.stringify(r));
  const relayBoth = [r.a, r.b].every((x) => x.local === "relay" && x.remote === "relay");
  if (r.received !== 20 || r.echoed !== 20 || !relayBoth) {
    console.error("relay-chromium: expected 20 messages each way over relay <-> relay");
    code = 1;
  }
} catch (e) {
  console.error(`relay-chromium: ${e.message ?? e}`);
  code = 1;
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
}
process.exit(code);
