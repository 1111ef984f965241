// A two-tab video call through an edgeturn relay, from an app on its own origin.
//
// The helper is imported from the edge (a cross-origin ES module import, no bundler, no
// copy): `?edge=https://auth.example.com` picks the edge (default: `cargo xtask run`'s),
// `?client=` the OAuth client registered there with this page's callback.html.
// Signalling is a BroadcastChannel, so the two peers are two tabs of this origin; the media is
// relay-only, so every frame goes through the TURN relay the edge's credentials are for.
const params = new URLSearchParams(location.search);
const edge = (params.get("edge") ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const clientId = params.get("client") ?? "edgeturn-call";

const $ = (id) => document.getElementById(id);
const log = (msg) => { $("log").textContent += `${new Date().toISOString().slice(11, 23)} ${msg}\n`; };
const setState = (state, text = state) => { call.state = state; $("state").textContent = text; };

/** What the page has done, for people (the page) and for tests (window.call). */
const call = { state: "loading", tokenIds: [], restarts: 0, connected: 0, message: "" };
window.call = call;
window.callStats = () => (pc ? stats(pc) : null);
$("edge").textContent = edge;

const { default: init, EdgeTurn } = await import(`${edge}/pkg/edgeturn.js`);
await init();
const edgeturn = new EdgeTurn({ edge, clientId, redirectUri: new URL("callback.html", location.href).href });

const me = crypto.randomUUID();
const channel = new BroadcastChannel("edgeturn-call");
const send = (msg) => channel.postMessage({ from: me, to: peer, ...msg });
let peer = null;      // the other tab's id, once it said hello
let media = null;     // this tab's camera (Chromium's fake device in the tests)
let servers = null;   // the newest ICE servers from the edge
let pc = null;

setState("signed-out", "signed out");
$("sign-in").disabled = false;
$("sign-in").addEventListener("click", async () => {
  $("sign-in").disabled = true;
  try {
    await edgeturn.signIn();
    media = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false });
    $("local").srcObject = media;
    edgeturn.autoRefresh(onServers, (err) => {
      log(`credentials refresh failed: ${err.code}: ${err.message}`);
      if (err.code === "session_expired") setState("error", "session expired: reload and sign in again");
    });
  } catch (err) {
    call.message = `${err.code ?? err.name}: ${err.message}`;
    setState("error", call.message);
    $("sign-in").disabled = false;
  }
});

/** autoRefresh calls this now and again before each set of credentials expires. */
function onServers(iceServers) {
  servers = iceServers;
  const info = edgeturn.credentialInfo();
  call.tokenIds.push(info.tokenId);
  $("token-id").textContent = info.tokenId ?? "–";
  $("expires").textContent = info.expiresAt ? new Date(info.expiresAt * 1000).toISOString() : "–";
  log(`ICE servers from the edge, token id ${info.tokenId}`);
  if (!pc) {
    setState("waiting", "waiting for the other tab…");
    send({ type: "hello" });
    return;
  }
  // The relay ends an allocation when its token expires, and the browser keeps the
  // credentials an allocation was made with: new servers mean an ICE restart, which gathers
  // fresh relay candidates with them and renegotiates through the signalling.
  pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
  pc.restartIce();
  $("restarts").textContent = String(++call.restarts);
  log("ICE restart with the new credentials");
}

// Messages are handled one at a time, in the order they came: a candidate must not overtake
// the description it belongs to.
let inbox = Promise.resolve();
channel.onmessage = ({ data: msg }) => {
  inbox = inbox.then(() => receive(msg));
};

async function receive(msg) {
  if (msg.to && msg.to !== me) return;
  if (msg.type === "hello") {
    if (peer || !servers) return;         // already in a call, or not signed in yet
    peer = msg.from;
    send({ type: "hello" });               // let the other tab know us too
    start();
    return;
  }
  if (msg.from !== peer || !pc) return;
  try {
    await signal(msg);
  } catch (err) {
    log(`signalling: ${err.message}`);
  }
}

// One tab makes every offer (the first call and each ICE restart); the other asks it for one.
// Two offers that cross would make one tab drop the other's candidates, and with relay-only
// candidates a tab that never learns the other's relay address never connects.
const offerer = () => me > peer;

function start() {
  pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
  for (const track of media.getTracks()) pc.addTrack(track, media);
  pc.ontrack = ({ streams: [stream] }) => { $("remote").srcObject = stream; };
  pc.onicecandidate = ({ candidate }) => send({ type: "candidate", candidate: candidate?.toJSON() ?? null });
  pc.onnegotiationneeded = async () => {
    if (!offerer()) {
      send({ type: "offer-please" });
      return;
    }
    try {
      await pc.setLocalDescription();
      send({ type: "description", description: pc.localDescription.toJSON() });
    } catch (err) {
      log(`offer: ${err.message}`);
    }
  };
  pc.onconnectionstatechange = async () => {
    log(`connection ${pc.connectionState}`);
    if (pc.connectionState === "connected") {
      call.connected++;
      setState("connected", "in a call through the relay");
      const s = await stats(pc);
      $("path").textContent = `${s.localType} ${s.localAddress} ⇄ ${s.remoteType} ${s.remoteAddress}`;
    } else if (pc.connectionState === "failed") {
      setState("error", "the connection failed");
    }
  };
}

async function signal(msg) {
  if (msg.type === "offer-please") {
    // The other tab restarts ICE with new credentials: so does the offer this makes. Before the
    // first answer, the first offer is on its way anyway.
    if (pc.remoteDescription && pc.signalingState === "stable") pc.restartIce();
  } else if (msg.type === "description") {
    const d = msg.description;
    await pc.setRemoteDescription(d);
    if (d.type === "offer") {
      await pc.setLocalDescription();
      send({ type: "description", description: pc.localDescription.toJSON() });
    }
  } else if (msg.type === "candidate") {
    await pc.addIceCandidate(msg.candidate ?? undefined);
  }
}

/** The selected candidate pair and the video counters, from getStats(). */
async function stats(conn) {
  const report = await conn.getStats();
  const out = { framesDecoded: 0, framesSent: 0 };
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = report.get(s.selectedCandidatePairId);
      const local = report.get(pair?.localCandidateId);
      const remote = report.get(pair?.remoteCandidateId);
      Object.assign(out, {
        localType: local?.candidateType, localAddress: `${local?.address}:${local?.port}`,
        relayProtocol: local?.relayProtocol, remoteType: remote?.candidateType,
        remoteAddress: `${remote?.address}:${remote?.port}`,
      });
    }
    if (s.type === "inbound-rtp" && s.kind === "video") out.framesDecoded += s.framesDecoded ?? 0;
    if (s.type === "outbound-rtp" && s.kind === "video") out.framesSent += s.framesSent ?? 0;
  });
  return out;
}
