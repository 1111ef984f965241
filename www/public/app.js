// The edgeturn demo page: sign in, show the TURN token's metadata, run a relay-only WebRTC
// self-test, show the signed-in person's relay usage. Everything comes from this origin; no
// external assets.
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

function signedIn(how) {
  $("sign-in").disabled = true;
  status($("who"), "ok", "signed in");
  log(how);
  $("sign-out").disabled = false;
  $("usage-refresh").disabled = false;
  showUsage();
  edgeturn.autoRefresh(showCredentials, (err) => {
    log(`refresh failed: ${err.code}: ${err.message}`);
    if (err.code === "session_expired") status($("who"), "error", "session expired: sign in again");
  });
}

// After a reload: the DPoP-bound refresh token kept beside this browser's key signs in again
// without a window (docs/www.md, "DPoP").
$("sign-in").disabled = true;
try {
  if (await edgeturn.resume()) signedIn("resumed the session with this browser's DPoP key");
} catch (err) {
  log(`could not resume: ${err.code}: ${err.message}`);
}
if (!edgeturn.signedIn) $("sign-in").disabled = false;

$("sign-in").addEventListener("click", async () => {
  $("sign-in").disabled = true;
  status($("who"), "idle", "signing in…");
  try {
    await edgeturn.signIn();
    signedIn("signed in");
  } catch (err) {
    status($("who"), "error", `${err.code ?? "error"}: ${err.message}`);
    $("sign-in").disabled = false;
  }
});

// Signing out ends the session at the edge too (RP-initiated logout): the edge revokes this
// page's refresh tokens, then sends the browser back here. A form POST, so the ID token never
// lands in a URL (history, logs).
$("sign-out").addEventListener("click", () => {
  const end = edgeturn.endSessionForm(`${location.origin}/`);
  edgeturn.signOut();
  if (!end) {
    location.assign("/");
    return;
  }
  const form = document.createElement("form");
  form.method = "post";
  form.action = end.action;
  for (const [name, value] of Object.entries(end.fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
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

const bytes = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;

/** The person's relay usage, by day and app, into the table. */
async function showUsage() {
  try {
    const u = await edgeturn.usage();
    const body = $("usage").tBodies[0];
    body.replaceChildren(...u.rows.map((r) => {
      const tr = document.createElement("tr");
      for (const text of [r.day, r.client_id ?? "–", r.allocations, bytes(r.to_peer_bytes), bytes(r.to_client_bytes)]) {
        const td = document.createElement("td");
        td.textContent = String(text);
        tr.append(td);
      }
      return tr;
    }));
    const t = u.total;
    $("usage-total").dataset.bytes = String(t.to_peer_bytes + t.to_client_bytes);
    status($("usage-total"), "ok", `${t.allocations} allocations, ${bytes(t.to_peer_bytes)} to peers, ${bytes(t.to_client_bytes)} back (${u.from} to ${u.to})`);
  } catch (err) {
    status($("usage-total"), "error", `${err.code ?? "error"}: ${err.message}`);
  }
}

$("usage-refresh").addEventListener("click", showUsage);

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
