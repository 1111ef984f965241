// Verifies JWTs with panva's jose against the edge's published keys (createRemoteJWKSet on
// jwks_uri), as an independent JWT library would in a resource server or relying party.
//
//   node e2e/jose-verify.mjs JWKS_URI ISSUER CASES_JSON
//
// CASES_JSON: [{name, token, audience, typ}]. Prints [{name, valid, alg, kid, error}] as one
// JSON line. The caller asserts which must be valid.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

const [jwksUri, issuer, casesJson] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksUri), { cacheMaxAge: 0, cooldownDuration: 0 });
const results = [];
for (const c of JSON.parse(casesJson)) {
  const { alg, kid } = decodeProtectedHeader(c.token);
  try {
    await jwtVerify(c.token, jwks, {
      issuer, audience: c.audience, typ: c.typ, algorithms: ["RS256", "ES256"],
      requiredClaims: ["sub", "iat", "exp"],
    });
    results.push({ name: c.name, valid: true, alg, kid });
  } catch (e) {
    results.push({ name: c.name, valid: false, alg, kid, error: e.code ?? String(e) });
  }
}
console.log(JSON.stringify(results));
