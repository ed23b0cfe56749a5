// DiskDB for JavaScript: Redis commands over an in-memory or OPFS-backed database, one async API
// in Node.js and browsers. The memory store runs the engine on the calling thread; the OPFS
// store runs it in a dedicated worker (worker.js), because OPFS's synchronous file handles,
// which the engine needs, exist only in workers.

import initWasm, { Database as WasmDatabase } from "./dist/diskdb_wasm.js";

const isNode =
  typeof process !== "undefined" && process.versions != null && process.versions.node != null;

let loading = null;

/** Loads and instantiates the WebAssembly module (once; `open` calls it). */
export function load() {
  loading ??= (async () => {
    const url = new URL("./dist/diskdb_wasm_bg.wasm", import.meta.url);
    if (isNode) {
      // Node's fetch cannot read file: URLs; the comments keep bundlers from resolving this.
      const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ "node:fs/promises");
      await initWasm({ module_or_path: await readFile(url) });
    } else {
      await initWasm({ module_or_path: url });
    }
  })().catch((err) => {
    loading = null; // let a later call retry (e.g. after a network failure)
    throw err;
  });
  return loading;
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** Runs the wasm engine on this thread. Calls are synchronous underneath; errors become rejections. */
class LocalBackend {
  constructor(db) {
    this.db = db;
  }
  async call(op, args) {
    if (this.db === null) throw new Error("ERR the database is closed");
    if (op === "close") {
      const db = this.db;
      this.db = null;
      try {
        db.close();
      } finally {
        db.free();
      }
      return undefined;
    }
    return this.db[op](...args);
  }
}

/** Runs the wasm engine in the package's worker, one request at a time, in order. */
class WorkerBackend {
  constructor(worker) {
    this.worker = worker;
    this.nextId = 1;
    this.waiting = new Map();
    this.failure = null;
    worker.onmessage = (event) => {
      const { id, value, error } = event.data;
      const waiter = this.waiting.get(id);
      if (!waiter) return;
      this.waiting.delete(id);
      if (error) waiter.reject(Object.assign(new Error(error.message), { name: error.name ?? "Error" }));
      else waiter.resolve(value);
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.fail(new Error(`ERR the DiskDB worker failed: ${event.message ?? "unknown error"}`));
    };
  }
  fail(err) {
    this.failure = err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
  call(op, args, transfer = []) {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args }, transfer);
    }).finally(() => {
      if (op === "close") {
        this.worker.terminate();
        this.fail(new Error("ERR the database is closed"));
      }
    });
  }
}

/** An open database. Every method returns a promise; commands run one at a time, in call order. */
export class Database {
  #backend;
  /** @param {LocalBackend|WorkerBackend} backend */
  constructor(backend, storage, name) {
    this.#backend = backend;
    /** "memory" or "opfs" */
    this.storage = storage;
    /** The database's name (OPFS file `diskdb/<name>.redb`). */
    this.name = name;
  }

  /** One command as redis-cli takes it, e.g. `SET "a key" 'a value'`. Error replies reject. */
  execute(command) {
    if (typeof command !== "string") return Promise.reject(new TypeError("execute() takes a string"));
    return this.#backend.call("execute", [command]);
  }

  /** One command as its arguments: strings, numbers or Uint8Arrays. */
  executeArgs(args) {
    if (!Array.isArray(args)) return Promise.reject(new TypeError("executeArgs() takes an array"));
    return this.#backend.call("executeArgs", [args]);
  }

  /** Raw RESP requests (a pipeline) in, raw RESP replies out, as a server would send them. */
  executeResp(bytes) {
    if (!(bytes instanceof Uint8Array)) return Promise.reject(new TypeError("executeResp() takes a Uint8Array"));
    return this.#backend.call("executeResp", [bytes]);
  }

  /** The database file (the native server's `diskdb.redb`). */
  export() {
    return this.#backend.call("export", []);
  }

  /** Replaces the whole database with a DiskDB database file; refused if the bytes are not one. */
  import(bytes) {
    if (!(bytes instanceof Uint8Array)) return Promise.reject(new TypeError("import() takes a Uint8Array"));
    return this.#backend.call("import", [bytes]);
  }

  /** Makes everything durable and releases the database (and, for OPFS, its lock). */
  close() {
    return this.#backend.call("close", []);
  }
}

/**
 * Opens a database.
 * @param {{storage?: "memory"|"opfs", name?: string, durability?: "always"|"everysec"|"no", data?: Uint8Array}} options
 */
export async function open(options = {}) {
  const storage = options.storage ?? "memory";
  const name = options.name ?? "default";
  if (!NAME.test(name)) {
    throw new TypeError(`invalid database name ${JSON.stringify(name)} (use 1-100 of A-Z a-z 0-9 . _ -)`);
  }
  if (storage === "memory") {
    await load();
    const data = options.data;
    if (data !== undefined && !(data instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
    return new Database(new LocalBackend(WasmDatabase.openMemory(data)), storage, name);
  }
  if (storage === "opfs") {
    if (isNode || typeof Worker === "undefined") {
      throw new Error('the "opfs" store needs a browser (OPFS in a Worker); use storage: "memory" here');
    }
    const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: `diskdb:${name}` });
    const backend = new WorkerBackend(worker);
    try {
      await backend.call("open", [{ name, durability: options.durability ?? "always" }]);
    } catch (err) {
      worker.terminate();
      throw err;
    }
    return new Database(backend, storage, name);
  }
  throw new TypeError(`unknown storage ${JSON.stringify(storage)} ("memory" or "opfs")`);
}
