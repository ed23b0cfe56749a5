// The OPFS store's dedicated worker: FileSystemSyncAccessHandle (synchronous reads, writes and
// flushes, which redb needs) exists only in workers. It holds a Web Lock named after the
// database for as long as the database is open, so a second tab or worker gets a clear error
// instead of a second writer; the access handle's own exclusivity backs that up.

import initWasm, { Database } from "./dist/diskdb_wasm.js";

const ready = initWasm({ module_or_path: new URL("./dist/diskdb_wasm_bg.wasm", import.meta.url) });

let db = null;
let handle = null;
let releaseLock = null;
let timer = null;

function busy(name) {
  return new Error(
    `ERR database "${name}" is already open in another tab or worker (OPFS allows one writer); close it there first`,
  );
}

/** Takes the database's Web Lock if nobody holds it; resolves to its release function, or null. */
function tryLock(name) {
  if (!navigator.locks) return Promise.resolve(() => {});
  return new Promise((resolve, reject) => {
    navigator.locks
      .request(`diskdb:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(null);
          return undefined;
        }
        // The lock is held until this promise settles: on close, or when the worker ends.
        return new Promise((release) => resolve(release));
      })
      .catch(reject);
  });
}

function release() {
  try {
    handle?.close();
  } finally {
    handle = null;
    releaseLock?.();
    releaseLock = null;
  }
}

const ops = {
  async open({ name, durability }) {
    await ready;
    if (db) throw new Error("ERR this worker already has a database open");
    releaseLock = await tryLock(name);
    if (!releaseLock) throw busy(name);
    try {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle("diskdb", { create: true });
      const file = await dir.getFileHandle(`${name}.redb`, { create: true });
      try {
        handle = await file.createSyncAccessHandle();
      } catch (err) {
        // Another handle on the file (a page without Web Locks, or another origin context).
        if (err?.name === "NoModificationAllowedError") throw busy(name);
        throw err;
      }
      db = Database.openOpfs(handle, durability);
      // Active expiry, and the periodic checkpoint that makes "everysec" / "no" writes durable.
      timer = setInterval(() => {
        try {
          db?.tick();
        } catch {
          // The next command reports storage failures to the caller.
        }
      }, 250);
    } catch (err) {
      release();
      throw err;
    }
    return null;
  },
  execute: (command) => live().execute(command),
  executeArgs: (args) => live().executeArgs(args),
  executeResp: (bytes) => live().executeResp(bytes),
  export: () => live().export(),
  import: (bytes) => live().import(bytes),
  close() {
    if (!db) return null;
    const current = db;
    db = null;
    clearInterval(timer);
    try {
      current.close();
    } finally {
      current.free();
      release();
    }
    return null;
  },
};

function live() {
  if (!db) throw new Error("ERR the database is closed");
  return db;
}

// One request at a time, in arrival order (only `open` awaits anything).
let queue = Promise.resolve();
self.onmessage = (event) => {
  const { id, op, args } = event.data;
  queue = queue.then(async () => {
    try {
      const fn = ops[op];
      if (!fn) throw new Error(`ERR unknown operation ${op}`);
      const value = await fn(...args);
      postMessage({ id, value }, value instanceof Uint8Array ? [value.buffer] : []);
    } catch (err) {
      postMessage({ id, error: { message: String(err?.message ?? err), name: err?.name } });
    }
  });
};
