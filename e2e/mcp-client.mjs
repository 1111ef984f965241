// An MCP client's way to a protected resource, with the MCP TypeScript SDK's own client auth
// (`auth()` from @modelcontextprotocol/sdk/client/auth.js) and an in-memory
// OAuthClientProvider: the SDK reads resource server A's protected resource metadata
// (RFC 9728, path-aware well-known URL), discovers the authorization server it names
// (RFC 8414), and sends the person to the authorization URL it built (PKCE S256, `resource`
// = A per RFC 8707); the edge's sign-in and consent forms are posted without a browser and
// the code is taken from the redirect; a second `auth()` exchanges it. The token works at A
// and is refused by resource server B.
//
// The client is a client ID metadata document: the SDK's `clientMetadataUrl`, which it uses as
// client_id when the edge's metadata says `client_id_metadata_document_supported`. This script
// serves the document over https on loopback (the test's CA signs the certificate; the edge
// runs with CLIENT_METADATA_DOCUMENTS=local and trusts that CA), since the SDK takes only https
// document URLs.
//
//   node e2e/mcp-client.mjs CONFIG_JSON
//
// CONFIG_JSON: {resourceA, resourceB (the /hello URLs), clientId (the document's https URL on
// 127.0.0.1), document (its JSON text), certFile, keyFile (PEM), redirectUri, username,
// password}. Prints one JSON line of what it saw; exits non-zero only when it cannot run.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { authorize } from "./lib-forms.mjs";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const out = {};
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };
const call = async (url, token) => {
  const r = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, challenge: r.headers.get("www-authenticate") ?? "", body: await r.text() };
};

/** An OAuthClientProvider that keeps everything in memory and records the authorization URL
 * instead of opening a browser. */
class MemoryProvider {
  constructor({ clientMetadataUrl, redirectUri }) {
    this.client = undefined;
    this.clientMetadataUrl = clientMetadataUrl;
    this.redirect = redirectUri;
    this.saved = undefined;
    this.verifier = undefined;
    this.discovery = undefined;
    this.authorizationUrl = undefined;
  }
  get redirectUrl() { return this.redirect; }
  get clientMetadata() {
    return {
      client_name: "MCP SDK test agent", redirect_uris: [this.redirect],
      grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = new URL(url); }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }
  saveDiscoveryState(state) { this.discovery = state; }
  discoveryState() { return this.discovery; }
}

/** Serves the client ID metadata document at its URL's path over https; counts fetches. */
async function serveDocument() {
  const url = new URL(cfg.clientId);
  const server = createServer({ cert: readFileSync(cfg.certFile), key: readFileSync(cfg.keyFile) }, (req, res) => {
    out.documentHits = (out.documentHits ?? 0) + 1;
    const found = req.method === "GET" && req.url === url.pathname;
    res.writeHead(found ? 200 : 404, { "content-type": "application/json", "cache-control": "max-age=300" });
    res.end(found ? cfg.document : "");
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(url.port), url.hostname, resolve);
  });
  return server;
}

const documents = await serveDocument();
try {
  const provider = new MemoryProvider({ clientMetadataUrl: cfg.clientId, redirectUri: cfg.redirectUri });
  const first = await auth(provider, { serverUrl: cfg.resourceA });
  check(first === "REDIRECT", `first auth(): ${first}`);
  const meta = provider.discovery?.resourceMetadata;
  const as = provider.discovery?.authorizationServerMetadata;
  out.metadata = meta ?? null;
  out.discovery = {
    authorizationServer: provider.discovery?.authorizationServerUrl ?? null,
    issuer: as?.issuer ?? null,
    cimd: as?.client_id_metadata_document_supported ?? null,
  };
  // No registration: the document's URL is the client id (saved by the SDK itself).
  out.clientInformation = provider.clientInformation() ?? null;
  const url = provider.authorizationUrl;
  check(url, "redirectToAuthorization was not called");
  const q = url.searchParams;
  out.authorization = {
    endpoint: `${url.origin}${url.pathname}`,
    clientId: q.get("client_id"),
    resource: q.getAll("resource"),
    codeChallengeMethod: q.get("code_challenge_method"),
    codeChallengeLength: q.get("code_challenge")?.length ?? 0,
    scope: q.get("scope"),
    redirectUri: q.get("redirect_uri"),
  };

  // The person signs in and consents; the code comes back at the redirect URI.
  const back = new URL(await authorize(url.toString(), cfg.username, cfg.password));
  check(`${back.origin}${back.pathname}` === cfg.redirectUri, `redirected to ${back}`);
  check(back.searchParams.get("iss") === as?.issuer, "RFC 9207 iss in the redirect");
  const code = back.searchParams.get("code");
  check(code, `no code in ${back}`);
  const second = await auth(provider, { serverUrl: cfg.resourceA, authorizationCode: code });
  check(second === "AUTHORIZED", `second auth(): ${second}`);
  const tokens = provider.tokens();
  check(tokens?.access_token, "no access token saved");
  out.tokenType = tokens.token_type;
  out.refreshToken = Boolean(tokens.refresh_token);
  const payload = JSON.parse(Buffer.from(tokens.access_token.split(".")[1], "base64url").toString());
  out.aud = payload.aud;
  out.clientIdClaim = payload.client_id ?? null;

  // A accepts it; B, another resource server on resource-verifier, refuses it.
  out.atA = await call(cfg.resourceA, tokens.access_token);
  out.atB = await call(cfg.resourceB, tokens.access_token);

  // A later auth() refreshes with the same resource, and the new token still works at A only.
  const third = await auth(provider, { serverUrl: cfg.resourceA });
  check(third === "AUTHORIZED", `refreshing auth(): ${third}`);
  const refreshed = provider.tokens().access_token;
  check(refreshed !== tokens.access_token, "the refresh returned the same token");
  out.refreshedAtA = (await call(cfg.resourceA, refreshed)).status;
  out.refreshedAtB = (await call(cfg.resourceB, refreshed)).status;
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e?.stack ?? e);
}
documents.close();
documents.closeAllConnections?.();
console.log(JSON.stringify(out));
