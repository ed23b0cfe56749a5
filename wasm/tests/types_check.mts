// Compiled with `tsc --noEmit` against the installed package: the shipped index.d.ts must
// describe the API as documented.
import { open, load, type Database, type Reply, type OpenOptions } from "diskdb";

const options: OpenOptions = { storage: "memory", name: "typed" };
await load();
const db: Database = await open(options);
const value: Reply = await db.execute('SET "a key" value');
const args: Reply = await db.executeArgs(["GET", new Uint8Array([1]), 3]);
const raw: Uint8Array = await db.executeResp(new TextEncoder().encode("PING\r\n"));
const file: Uint8Array = await db.export();
await db.import(file);
const storage: "memory" | "opfs" = db.storage;
await db.close();
const opfs: Database = await open({ storage: "opfs", name: "app", durability: "always" });
void [value, args, raw, storage, opfs];
