// Type-checked with the Vite example against the npm package's edgeturn.d.ts: every line
// marked below must be a type error (tsc fails on an unused @ts-expect-error), so the types
// really describe the API rather than `any`.
import init, { EdgeTurn, type CredentialInfo } from "edgeturn";

// @ts-expect-error the edge is a URL string
new EdgeTurn({ edge: 1, clientId: "c", redirectUri: "https://app.example/callback.html" });
// @ts-expect-error clientId is required
new EdgeTurn({ edge: "https://e.example", redirectUri: "https://app.example/callback.html" });

const et = new EdgeTurn({ edge: "https://e.example", clientId: "c", redirectUri: "https://a.example/cb" });
// @ts-expect-error iceServers() resolves to RTCIceServer[]
export const n: Promise<number> = et.iceServers();
// @ts-expect-error there is no password sign-in in the browser
et.signInWithPassword("user", "password");
// @ts-expect-error onServers is given RTCIceServer[]
et.autoRefresh((servers: number) => servers);
// @ts-expect-error the token id is a string
export const id: number | undefined = (et.credentialInfo() as CredentialInfo).tokenId;

export const ok: Promise<RTCIceServer[]> = et.iceServers();
export const loaded: Promise<unknown> = init();
