// Generates a signing key for the edge (the SIGNING_KEYS secret: a private JWK set) with
// WebCrypto, the same implementation the worker signs with. No dependencies.
//
//   node xtask/signing-key.mjs [--alg RS256|ES256] [--nbf UNIX_SECONDS] [--add FILE]
//
// Without --add, prints a one-key set. With --add, appends the key to the set in FILE
// (creating it), so the newest key is last: the one that signs (docs/edge-oauth.md, rotation).
// The kid is the key's RFC 7638 thumbprint.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const alg = opt("--alg") ?? "RS256";
const nbf = opt("--nbf");
const file = opt("--add");
const params = {
  RS256: [{ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }],
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }],
}[alg];
if (!params || (nbf !== undefined && !/^\d+$/.test(nbf))) {
  console.error("usage: node xtask/signing-key.mjs [--alg RS256|ES256] [--nbf UNIX_SECONDS] [--add FILE]");
  process.exit(2);
}
const pair = await crypto.subtle.generateKey(params[0], true, ["sign", "verify"]);
const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
const canonical = jwk.kty === "RSA"
  ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
  : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
const kid = createHash("sha256").update(JSON.stringify(canonical)).digest("base64url");
const key = { kid, alg, use: "sig", ...jwk };
delete key.key_ops;
delete key.ext;
if (nbf !== undefined) key.nbf = Number(nbf);

if (file) {
  const set = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : { keys: [] };
  set.keys.push(key);
  writeFileSync(file, JSON.stringify(set) + "\n", { mode: 0o600 });
  console.error(`added ${alg} key ${kid} to ${file} (${set.keys.length} keys)`);
} else {
  process.stdout.write(JSON.stringify({ keys: [key] }) + "\n");
}
