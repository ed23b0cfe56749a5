/**
 * A reply as a JavaScript value: simple and bulk strings are strings (a bulk string that is not
 * UTF-8 is a Uint8Array), integers are numbers (bigint beyond Number.MAX_SAFE_INTEGER), nil is
 * null, arrays are arrays; with RESP3 (`HELLO 3`) maps are objects (a Map when a key is not a
 * string), doubles numbers, booleans booleans. An error reply rejects the promise with an Error
 * whose message is Redis's text; inside an array (EXEC) it is an Error element.
 */
export type Reply =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | Error
  | Reply[]
  | Map<Reply, Reply>
  | { [key: string]: Reply };

export interface OpenOptions {
  /** "memory" (default; Node.js and browsers) or "opfs" (browsers: runs in the package's worker). */
  storage?: "memory" | "opfs";
  /** Database name: the OPFS file `diskdb/<name>.redb`. 1-100 of A-Z a-z 0-9 . _ - (default "default"). */
  name?: string;
  /**
   * OPFS only. "always" (default): each write is flushed to OPFS before its reply.
   * "everysec" / "no": flushed by a checkpoint about once a second and by close().
   */
  durability?: "always" | "everysec" | "no";
  /** Memory only: start from this database file (from export() or a server's diskdb.redb). */
  data?: Uint8Array;
}

export interface Database {
  readonly storage: "memory" | "opfs";
  readonly name: string;
  /** One command as redis-cli takes it (its quoting rules), e.g. `SET "a key" 'a value'`. */
  execute(command: string): Promise<Reply>;
  /** One command given as its arguments. */
  executeArgs(args: Array<string | number | Uint8Array>): Promise<Reply>;
  /**
   * Raw RESP requests (a pipeline) in, raw RESP replies out. The requests commit together; an
   * incomplete request at the end is completed by the next call.
   */
  executeResp(bytes: Uint8Array): Promise<Uint8Array>;
  /** The database file, which the native server opens as `diskdb.redb`. */
  export(): Promise<Uint8Array>;
  /** Replaces the whole database with a DiskDB database file; rejects (keeping the data) otherwise. */
  import(bytes: Uint8Array): Promise<void>;
  /** Makes everything durable and releases the database (for OPFS, its lock and worker). */
  close(): Promise<void>;
}

/** Opens a database. A second open of the same OPFS database (any tab or worker) rejects. */
export function open(options?: OpenOptions): Promise<Database>;

/** Loads the WebAssembly module ahead of the first open(). */
export function load(): Promise<void>;
