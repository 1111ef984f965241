// The helper as the edge serves it to other origins: CORS on /pkg/*, JavaScript and wasm
// content types, the content-addressed build cached immutably, the stable names revalidated
// with their ETag, and nothing of this leaking onto the rest of the site.
//
//   node e2e/pkg-headers.mjs EDGE_ORIGIN
//
// Prints one JSON line; exits non-zero on the first failed check.
const [edge] = process.argv.slice(2);
if (!edge) {
  console.error("usage: node e2e/pkg-headers.mjs EDGE_ORIGIN");
  process.exit(2);
}
const from = "http://app.example";   // any other origin
const fail = (msg) => {
  console.error(`pkg headers: ${msg}`);
  process.exit(1);
};
const get = async (path, headers = {}) => {
  const r = await fetch(`${edge}${path}`, { headers: { origin: from, ...headers } });
  const body = r.status === 200 ? Buffer.from(await r.arrayBuffer()) : (await r.arrayBuffer(), null);
  return { status: r.status, h: r.headers, body };
};
const expect = (cond, msg) => cond || fail(msg);
const YEAR = /(^|,)\s*public\s*,\s*max-age=31536000\s*,\s*immutable\s*$/;

// The stable module: CORS, JavaScript, revalidated every time (never immutable), with an ETag.
const stub = await get("/pkg/edgeturn.js");
expect(stub.status === 200, `/pkg/edgeturn.js: HTTP ${stub.status}`);
expect(stub.h.get("access-control-allow-origin") === "*", "/pkg/edgeturn.js has no Access-Control-Allow-Origin: *");
expect(/^(text|application)\/javascript/.test(stub.h.get("content-type")), `/pkg/edgeturn.js is ${stub.h.get("content-type")}`);
const stubCache = stub.h.get("cache-control") ?? "";
expect(!/immutable/.test(stubCache) && /max-age=0|no-cache/.test(stubCache),
  `/pkg/edgeturn.js names a changing file but is cached as "${stubCache}"`);
const etag = stub.h.get("etag");
expect(etag, "/pkg/edgeturn.js has no ETag");
const again = await get("/pkg/edgeturn.js", { "if-none-match": etag });
expect(again.status === 304, `a revalidation with its ETag got HTTP ${again.status}, not 304`);

// The build it re-exports: immutable, and the wasm as application/wasm.
const build = /from "\.\/([^/"]+)\/edgeturn\.js"/.exec(stub.body.toString())?.[1];
expect(build && /^\d+\.\d+\.\d+[^/]*-[0-9a-f]{12}$/.test(build), `the stable module re-exports no VERSION-HASH build:\n${stub.body}`);
const checks = [
  [`/pkg/${build}/edgeturn.js`, /^(text|application)\/javascript/],
  [`/pkg/${build}/edgeturn_bg.wasm`, /^application\/wasm/],
];
for (const [path, type] of checks) {
  const r = await get(path);
  expect(r.status === 200, `${path}: HTTP ${r.status}`);
  expect(r.h.get("access-control-allow-origin") === "*", `${path} has no Access-Control-Allow-Origin: *`);
  expect(type.test(r.h.get("content-type")), `${path} is ${r.h.get("content-type")}`);
  expect(YEAR.test(r.h.get("cache-control") ?? ""), `${path} is cached as "${r.h.get("cache-control")}", not immutable for a year`);
  expect(r.h.get("x-content-type-options") === "nosniff", `${path} lacks X-Content-Type-Options: nosniff`);
}
const wasm = await get(`/pkg/${build}/edgeturn_bg.wasm`);
expect(wasm.body.subarray(0, 4).equals(Buffer.from([0, 0x61, 0x73, 0x6d])), "the wasm does not start with \\0asm");

// Types for editors, as text (by extension they would be video/mp2t).
for (const path of ["/pkg/edgeturn.d.ts", `/pkg/${build}/edgeturn.d.ts`]) {
  const types = await get(path);
  expect(types.status === 200 && /^text\/plain/.test(types.h.get("content-type")), `${path}: HTTP ${types.status}, ${types.h.get("content-type")}`);
}

// Negative: a build that does not exist is a 404 no cache keeps; the headers file itself and
// the rest of the site get none of this.
const missing = await get("/pkg/0.0.0-000000000000/edgeturn.js");
expect(missing.status === 404, `a missing build answered HTTP ${missing.status}`);
expect(!/immutable/.test(missing.h.get("cache-control") ?? ""), "a 404 under /pkg is cached immutably");
const headersFile = await get("/_headers");
expect(headersFile.status === 404, `/_headers is served (HTTP ${headersFile.status})`);
const page = await get("/");
expect(page.status === 200, `/: HTTP ${page.status}`);
expect(!page.h.get("access-control-allow-origin"), "the page at / answers CORS; only /pkg/* should");
expect(!YEAR.test(page.h.get("cache-control") ?? ""), "the page at / is cached immutably");

console.log(JSON.stringify({ ok: true, build, stubCache, etag, wasmBytes: wasm.body.length }));
