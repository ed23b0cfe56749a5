// The browser side of browser_test.mjs: each phase is a function the driver calls with
// page.evaluate. The OPFS store runs in the package's worker; the memory store on this thread.
import { open } from "diskdb";
import { isUnknownCommand, matches, parseExpected, run, show } from "/canon.mjs";

const NAME = "e2e";
let db = null;
let dataset = null;

async function groups() {
  dataset ??= (await (await fetch("/dataset.json")).json()).groups;
  return dataset;
}

async function verify(handle, active, failures, label) {
  for (const g of active) {
    for (const [argv, want] of g.checks) {
      const got = await run(handle, argv);
      if (!matches(got, parseExpected(want))) failures.push(`${label} ${JSON.stringify(argv)}: got ${show(got)}, want ${want}`);
    }
  }
  const keys = active.flatMap((g) => g.keys);
  const got = await run(handle, "KEYS *");
  if (!matches(got, parseExpected("~" + JSON.stringify(keys)))) failures.push(`${label} KEYS *: got ${show(got)}`);
  return keys.length;
}

/** Opens the OPFS database, empties it, writes the dataset and reads it back. Leaves it open. */
window.phaseWrite = async () => {
  db = await open({ storage: "opfs", name: NAME });
  await db.execute("FLUSHALL");
  const failures = [];
  const active = [];
  const skipped = [];
  for (const g of await groups()) {
    const replies = [];
    for (const argv of g.writes) replies.push(await run(db, argv));
    if (replies.some(isUnknownCommand)) {
      skipped.push(g.type);
      continue;
    }
    replies.forEach((r, i) => {
      if (r && typeof r === "object" && "error" in r) failures.push(`${JSON.stringify(g.writes[i])}: ${r.error}`);
    });
    active.push(g);
  }
  const keys = await verify(db, active, failures, "before reload");
  return { failures, keys, types: active.map((g) => g.type), skipped };
};

/** Durable write latency: sequential SETs, each awaited (flushed to OPFS before its reply). */
window.phaseLatency = async (n) => {
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await db.execute(`SET latency:${i % 16} value-${i}`);
    times.push(performance.now() - start);
  }
  const pipelineStart = performance.now();
  let pipeline = "";
  for (let i = 0; i < 100; i++) pipeline += `SET latency:p${i} v\r\n`;
  await db.executeResp(new TextEncoder().encode(pipeline));
  const pipelineMs = performance.now() - pipelineStart;
  const reads = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await db.execute(`GET latency:${i % 16}`);
    reads.push(performance.now() - start);
  }
  const del = ["DEL", ...Array.from({ length: 16 }, (_, i) => `latency:${i}`), ...Array.from({ length: 100 }, (_, i) => `latency:p${i}`)];
  await db.executeArgs(del);
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[s.length >> 1], p95: s[Math.floor(s.length * 0.95)], mean: s.reduce((a, b) => a + b, 0) / s.length };
  };
  return { writes: stats(times), reads: stats(reads), pipeline100Ms: pipelineMs };
};

/** A second handle on the same database must be refused with a clear error. */
window.phaseSecondHandle = async () => {
  try {
    const second = await open({ storage: "opfs", name: NAME });
    await second.close();
    return { refused: false };
  } catch (err) {
    return { refused: true, message: err.message };
  }
};

/**
 * The backstop: a handle taken without the Web Lock (another library, an older page) still keeps
 * DiskDB out, through the access handle's exclusivity, with the same clear error.
 */
window.phaseRawHandle = async () => {
  const source = `onmessage = async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle("diskdb", { create: true });
    const file = await dir.getFileHandle("e2e-raw.redb", { create: true });
    self.handle = await file.createSyncAccessHandle();
    postMessage("held");
  };`;
  const holder = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
  await new Promise((resolve) => {
    holder.onmessage = resolve;
    holder.postMessage("go");
  });
  try {
    const db2 = await open({ storage: "opfs", name: "e2e-raw" });
    await db2.close();
    return { refused: false };
  } catch (err) {
    return { refused: true, message: err.message };
  } finally {
    holder.terminate();
  }
};

/** After a reload: reopen, read everything back, export the file. */
window.phaseRead = async (types) => {
  db = await open({ storage: "opfs", name: NAME });
  const active = (await groups()).filter((g) => types.includes(g.type));
  const failures = [];
  const keys = await verify(db, active, failures, "after reload");
  const dbsize = await db.execute("DBSIZE");
  if (dbsize !== keys) failures.push(`DBSIZE ${dbsize}, want ${keys}`);
  const file = await db.export();
  return { failures, keys, file: btoa(Array.from(file, (b) => String.fromCharCode(b)).join("")) };
};

window.phaseClose = async () => {
  await db?.close();
  db = null;
  return true;
};

/** The memory store on the page's own thread, with import of the OPFS export. */
window.phaseMemory = async (fileBase64) => {
  const bytes = Uint8Array.from(atob(fileBase64), (c) => c.charCodeAt(0));
  const mem = await open({ storage: "memory" });
  await mem.import(bytes);
  const out = { dbsize: await mem.execute("DBSIZE"), get: await mem.execute("GET str:plain") };
  await mem.execute("SET brief v PX 30");
  await new Promise((r) => setTimeout(r, 60));
  out.expired = (await mem.execute("GET brief")) === null;
  await mem.close();
  return out;
};

/** import() on an OPFS database (durability "everysec"): replaces the data durably; garbage is refused. */
window.phaseImportOpfs = async (fileBase64, keys) => {
  const bytes = Uint8Array.from(atob(fileBase64), (c) => c.charCodeAt(0));
  const failures = [];
  let other = await open({ storage: "opfs", name: "e2e-import", durability: "everysec" });
  await other.execute("FLUSHALL");
  await other.execute("SET local 1");
  await other.import(bytes);
  if ((await other.execute("DBSIZE")) !== keys) failures.push("DBSIZE after import");
  if ((await other.execute("GET local")) !== null) failures.push("import kept an old key");
  try {
    await other.import(new Uint8Array(10000).fill(7));
    failures.push("garbage import accepted");
  } catch (err) {
    if (!/not a DiskDB database/.test(err.message)) failures.push(`garbage import: ${err.message}`);
  }
  await other.execute("SET added after");
  await other.close();
  other = await open({ storage: "opfs", name: "e2e-import" });
  if ((await other.execute("DBSIZE")) !== keys + 1) failures.push("import or the write after it did not persist");
  await other.close();
  return failures;
};

window.ready = true;
