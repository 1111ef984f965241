// The helper's npm packages load and behave in Node, without a browser: the web build
// through initSync, the bundler build through WebAssembly ES module integration (run with
// --experimental-wasm-modules). Options are checked, errors carry their code, and nothing
// reaches the network before sign-in.
//
//   node --experimental-wasm-modules e2e/npm-packages.mjs WEB_PACKAGE_DIR BUNDLER_PACKAGE_DIR
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [webDir, bundlerDir] = process.argv.slice(2);
if (!bundlerDir) {
  console.error("usage: node --experimental-wasm-modules e2e/npm-packages.mjs WEB_DIR BUNDLER_DIR");
  process.exit(2);
}
const fail = (msg) => {
  console.error(`npm packages: ${msg}`);
  process.exit(1);
};
const load = async (dir) => {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  for (const f of [manifest.main ?? manifest.module, manifest.types, "README.md", "LICENSE-MIT", "LICENSE-APACHE"]) {
    try { readFileSync(join(dir, f)); } catch { fail(`${manifest.name} lacks ${f}`); }
  }
  return { manifest, mod: await import(pathToFileURL(join(dir, manifest.main ?? manifest.module)).href) };
};

const web = await load(webDir);
web.mod.initSync({ module: readFileSync(join(webDir, "edgeturn_bg.wasm")) });
const bundler = await load(bundlerDir);

const seen = {};
for (const { manifest, mod } of [web, bundler]) {
  const name = manifest.name;
  const et = new mod.EdgeTurn({ edge: "https://edge.example", clientId: "app", redirectUri: "https://app.example/callback.html" });
  if (et.signedIn !== false) fail(`${name}: signedIn before signIn()`);
  try {
    await et.iceServers();
    fail(`${name}: iceServers() before signIn() resolved`);
  } catch (e) {
    if (e.name !== "EdgeTurnError" || e.code !== "not_signed_in") fail(`${name}: iceServers() before signIn() threw ${e.name} ${e.code}: ${e.message}`);
  }
  for (const bad of [{}, { edge: "not a url", clientId: "app", redirectUri: "https://app.example/cb" },
                     { edge: "https://edge.example", clientId: "", redirectUri: "https://app.example/cb" },
                     { edge: "https://edge.example", clientId: "app", redirectUri: "https://app.example/cb", dpop: "yes" }]) {
    try {
      new mod.EdgeTurn(bad);
      fail(`${name}: accepted options ${JSON.stringify(bad)}`);
    } catch (e) {
      if (e.code !== "bad_options") fail(`${name}: options ${JSON.stringify(bad)} threw ${e.code}: ${e.message}`);
    }
  }
  seen[name] = manifest.version;
}
console.log(JSON.stringify({ ok: true, packages: seen }));
