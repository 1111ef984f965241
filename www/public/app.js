// The edgeturn demo page: sign in, show the TURN token's metadata, run a relay-only WebRTC
// self-test. Everything comes from this origin; no external assets.
import init, { EdgeTurn } from "/pkg/edgeturn.js";

const $ = (id) => document.getElementById(id);
const log = (msg) => { $("log").textContent += `${new Date().toISOString().slice(11, 23)} ${msg}\n`; };
const status = (el, state, text) => { el.dataset.state = state; el.textContent = text; };

await init();
const clientId = document.querySelector('meta[name="edgeturn-client-id"]').content;
const edgeturn = new EdgeTurn({ edge: location.origin, clientId, redirectUri: `${location.origin}/callback.html` });
let iceServers = null;
window.edgeturnResult = { state: "idle" };

function showCredentials(servers) {
  iceServers = servers;
  const info = edgeturn.credentialInfo();
  $("kid").textContent = info.kid ?? "–";
  $("expires").textContent = info.expiresAt ? new Date(info.expiresAt * 1000).toISOString() : "–";
  $("token-id").textContent = info.tokenId ?? "–";
  $("urls").textContent = servers.flatMap((s) => [].concat(s.urls)).join("  ");
  $("self-test").disabled = false;
  log(`ICE servers received (token id ${info.tokenId ?? "?"})`);
}

$("sign-in").addEventListener("click", async () => {
  $("sign-in").disabled = true;
  status($("who"), "idle", "signing in…");
  try {
    await edgeturn.signIn();
    status($("who"), "ok", "signed in");
    $("sign-out").disabled = false;
    edgeturn.autoRefresh(showCredentials, (err) => {
      log(`refresh failed: ${err.code}: ${err.message}`);
      if (err.code === "session_expired") status($("who"), "error", "session expired: sign in again");
    });
  } catch (err) {
    status($("who"), "error", `${err.code ?? "error"}: ${err.message}`);
    $("sign-in").disabled = false;
  }
});

// Signing out ends the session at the edge too (RP-initiated logout): the edge revokes this
// page's refresh tokens, then sends the browser back here.
$("sign-out").addEventListener("click", () => {
  const url = edgeturn.endSessionUrl(`${location.origin}/`);
  edgeturn.signOut();
  location.assign(url ?? "/");
});

$("self-test").addEventListener("click", async () => {
  $("self-test").disabled = true;
  status($("result"), "idle", "connecting…");
  window.edgeturnResult = { state: "running" };
  try {
    const r = await selfTest(iceServers);
    window.edgeturnResult = { state: "ok", ...r };
    status($("result"), "ok", `connected through the relay in ${r.connectMs.toFixed(0)} ms`);
    $("candidates").textContent = `${r.localType} ⇄ ${r.remoteType} (${r.relayAddress})`;
    $("rtt").textContent = `${r.rttMs.toFixed(1)} ms (data channel echo, median of ${r.pings})`;
  } catch (err) {
    window.edgeturnResult = { state: "error", message: String(err.message ?? err) };
    status($("result"), "error", `failed: ${err.message ?? err}`);
  } finally {
    $("self-test").disabled = false;
  }
});

/** Two relay-only peer connections in this page, a data channel, an echo round trip. */
async function selfTest(servers, pings = 10) {
  const config = { iceServers: servers, iceTransportPolicy: "relay" };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  const started = performance.now();
  try {
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    b.ondatachannel = (e) => { e.channel.onmessage = (m) => e.channel.send(m.data); };
    const dc = a.createDataChannel("self-test");
    const opened = new Promise((resolve, reject) => {
      dc.onopen = resolve;
      setTimeout(() => reject(new Error("no relayed connection within 15 s")), 15000);
    });
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    await opened;
    const connectMs = performance.now() - started;
    const openedAt = performance.now();
    log(`data channel open after ${connectMs.toFixed(0)} ms`);

    const rtts = [];
    for (let i = 0; i < pings; i++) {
      const t = performance.now();
      const echoed = new Promise((resolve) => { dc.onmessage = resolve; });
      dc.send(`ping ${i}`);
      await echoed;
      rtts.push(performance.now() - t);
    }
    rtts.sort((x, y) => x - y);

    const pair = await selectedPair(a);
    return { connectMs, openedAt, rttMs: rtts[Math.floor(rtts.length / 2)], pings, ...pair,
             remotePair: await selectedPair(b) };
  } finally {
    a.close();
    b.close();
  }
}

async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
  if (!pair) throw new Error("no selected candidate pair");
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return { localType: local.candidateType, remoteType: remote.candidateType,
           relayAddress: `${local.address}:${local.port}` };
}
