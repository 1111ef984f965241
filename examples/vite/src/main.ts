// The helper from npm (`npm install edgeturn`), bundled by Vite: the wasm file is found through
// `new URL(..., import.meta.url)` in the package and emitted as a hashed asset.
import init, { EdgeTurn, type EdgeTurnError } from "edgeturn";

const edge: string = import.meta.env.VITE_EDGE ?? "http://127.0.0.1:8787";
const clientId: string = import.meta.env.VITE_CLIENT_ID ?? "edgeturn-vite";

/** What happened, for the page and for tests. */
interface Result {
  state: "loading" | "ready" | "ok" | "error";
  message?: string;
  tokenId?: string;
  candidateType?: string;
  urls?: string[];
}
const result: Result = { state: "loading" };
(window as unknown as { edgeturnVite: Result }).edgeturnVite = result;

const button = document.getElementById("sign-in") as HTMLButtonElement;
const state = document.getElementById("state") as HTMLElement;
const out = document.getElementById("out") as HTMLElement;
const show = (s: Result["state"], text: string) => {
  result.state = s;
  state.textContent = text;
};

init()
  .then(() => {
    const et = new EdgeTurn({ edge, clientId, redirectUri: `${location.origin}/callback.html` });
    button.onclick = () => signInAndGather(et);
    button.disabled = false;
    show("ready", "signed out");
  })
  .catch((err: Error) => show("error", `the helper did not load: ${err.message}`));

async function signInAndGather(et: EdgeTurn): Promise<void> {
  button.disabled = true;
  try {
    await et.signIn();
    const iceServers: RTCIceServer[] = await et.iceServers();
    result.tokenId = et.credentialInfo().tokenId;
    result.urls = iceServers.flatMap((s) => ([] as string[]).concat(s.urls));
    const relay = await gatherRelayCandidate(iceServers);
    result.candidateType = relay.type ?? undefined;
    out.textContent = `relay candidate ${relay.address}:${relay.port}\ntoken id ${result.tokenId}`;
    show("ok", "the relay allocated an address with these credentials");
  } catch (e) {
    const err = e as EdgeTurnError;
    result.message = `${err.code ?? err.name}: ${err.message}`;
    show("error", result.message);
    button.disabled = false;
  }
}

/** A relay-only peer connection's first candidate: proof the relay took the credentials. */
async function gatherRelayCandidate(iceServers: RTCIceServer[]): Promise<RTCIceCandidate> {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  try {
    const first = new Promise<RTCIceCandidate>((resolve, reject) => {
      pc.onicecandidate = ({ candidate }) => {
        if (candidate?.type === "relay") resolve(candidate);
        else if (!candidate) reject(new Error("gathering ended without a relay candidate"));
      };
      setTimeout(() => reject(new Error("no relay candidate within 10 s")), 10_000);
    });
    pc.createDataChannel("probe");
    await pc.setLocalDescription();
    return await first;
  } finally {
    pc.close();
  }
}
