// Real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) on a static
// server at 127.0.0.1: the packed npm package's OPFS store writes every data type, the page
// reloads and reads everything back, a second handle (another worker in the page, and another
// tab) is refused with a clear error, closing releases the database to the other tab, and the
// data survives a browser restart. Also measures durable OPFS write latency.
// Usage: node browser_test.mjs PLAYWRIGHT_CORE_DIR SERVE_DIR [EXPORT_FILE]
//   SERVE_DIR holds node_modules/diskdb (the installed tarball) and this directory's files.
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";

const [pwDir, serveDir, exportPath] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(join(pwDir, "index.mjs")).href);
const root = resolve(serveDir);
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };

const server = createServer((req, res) => {
  const path = normalize(join(root, decodeURIComponent(new URL(req.url, "http://x").pathname)));
  if (!(path === root || path.startsWith(root + sep)) || !existsSync(path) || !statSync(path).isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "cache-control": "no-store" });
  res.end(readFileSync(path));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/browser.html`;

const profile = mkdtempSync(join(tmpdir(), "diskdb-chromium-"));
const launch = () =>
  chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
const failures = [];
const expect = (ok, message) => {
  if (!ok) failures.push(message);
};
async function newPage(context) {
  const page = await context.newPage();
  page.on("pageerror", (err) => failures.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") console.log(`  [browser console] ${msg.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

let context = await launch();
let figures;
try {
  const page = await newPage(context);
  const written = await page.evaluate(() => window.phaseWrite());
  failures.push(...written.failures);
  for (const t of written.skipped) console.log(`  (skipped: ${t} — not in this engine yet)`);
  console.log(`  OPFS: wrote ${written.keys} keys (${written.types.join(", ")})`);

  figures = await page.evaluate((n) => window.phaseLatency(n), 300);

  const sameTab = await page.evaluate(() => window.phaseSecondHandle());
  expect(sameTab.refused && /already open/.test(sameTab.message), `second handle in the same tab: ${JSON.stringify(sameTab)}`);
  const tab2 = await newPage(context);
  const otherTab = await tab2.evaluate(() => window.phaseSecondHandle());
  expect(otherTab.refused && /already open/.test(otherTab.message), `second handle in another tab: ${JSON.stringify(otherTab)}`);
  console.log(`  second handle refused (same tab and another tab): "${otherTab.message}"`);
  const raw = await page.evaluate(() => window.phaseRawHandle());
  expect(raw.refused && /already open/.test(raw.message), `a raw access handle held elsewhere: ${JSON.stringify(raw)}`);
  console.log("  a sync access handle held without the Web Lock also keeps a second writer out");

  // Reload without closing: the worker dies with the page; what was acknowledged is on OPFS.
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const read = await page.evaluate((types) => window.phaseRead(types), written.types);
  failures.push(...read.failures);
  console.log(`  after reload: read back all ${read.keys} keys`);
  if (exportPath) writeFileSync(exportPath, Buffer.from(read.file, "base64"));

  const mem = await page.evaluate((file) => window.phaseMemory(file), read.file);
  expect(mem.dbsize === read.keys && mem.get === "hello world" && mem.expired, `memory store in the page: ${JSON.stringify(mem)}`);
  console.log("  memory store on the page's thread: import of the OPFS export, expiry: ok");
  const imported = await page.evaluate(([file, keys]) => window.phaseImportOpfs(file, keys), [read.file, read.keys]);
  failures.push(...imported.map((f) => `OPFS import: ${f}`));
  console.log("  import() into another OPFS database (durability everysec), refused garbage, reopen: ok");

  // Closing releases the database: the other tab can now open it.
  await page.evaluate(() => window.phaseClose());
  const inTab2 = await tab2.evaluate((types) => window.phaseRead(types), written.types);
  failures.push(...inTab2.failures.map((f) => `tab 2: ${f}`));
  await tab2.evaluate(() => window.phaseClose());
  console.log("  after close, another tab opens the database: ok");
  await context.close();

  // A new browser process on the same profile still has the data.
  context = await launch();
  const restarted = await newPage(context);
  const again = await restarted.evaluate((types) => window.phaseRead(types), written.types);
  failures.push(...again.failures.map((f) => `after restart: ${f}`));
  await restarted.evaluate(() => window.phaseClose());
  console.log(`  after a browser restart: all ${again.keys} keys present`);
} finally {
  await context.close().catch(() => {});
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

const ms = (x) => `${x.toFixed(2)} ms`;
console.log(
  `  figures: durable OPFS write (SET, awaited, durability "always"): median ${ms(figures.writes.median)}, ` +
    `p95 ${ms(figures.writes.p95)}, mean ${ms(figures.writes.mean)}; GET: median ${ms(figures.reads.median)}; ` +
    `100 SETs in one executeResp pipeline (one flush): ${ms(figures.pipeline100Ms)}`,
);
if (failures.length) {
  for (const f of failures) console.log("FAIL " + f);
  process.exit(1);
}
console.log("browser: ok");
