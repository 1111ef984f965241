// A static file server for the examples, on loopback only: each example is an app on its own
// origin, apart from the edge that serves the helper.
//
//   node examples/serve.mjs DIR [PORT]      (no PORT, or 0: a free port)
//
// Prints `serving DIR at http://127.0.0.1:PORT/` once it listens. Also a module:
// `const { url, close } = await serve(dir, port)`.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

/** Serves `dir` on 127.0.0.1:`port`; resolves with its URL and a close function. */
export async function serve(dir, port = 0) {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const send = (status, body, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    } catch {
      return send(400, "bad path\n");
    }
    let file = join(root, path);
    if (file !== root && !file.startsWith(root + sep)) return send(404, "not found\n");
    try {
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      send(200, await readFile(file), TYPES[extname(file)] ?? "application/octet-stream");
    } catch {
      send(404, "not found\n");
    }
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(port, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [dir, port] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: node examples/serve.mjs DIR [PORT]");
    process.exit(2);
  }
  const { url } = await serve(dir, Number(port ?? 0));
  console.log(`serving ${dir} at ${url}/`);
}
