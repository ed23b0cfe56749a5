// The console's renderer and line splitter against the real redis-cli: a small fake server
// sends canned replies (every RESP2 and RESP3 shape, nesting, escapes, wide indices) and records
// the arguments redis-cli sends for typed lines; resp.js must print the same text and split the
// same arguments. Falls back to resp.js's own expectations (printed as a warning) when
// redis-cli is not installed. Usage: node render_test.mjs
import { execFile, execFileSync } from "node:child_process";
import net from "node:net";
import { decodeReplies, encodeCommands, formatReply, replyCount, splitArgs, SplitError } from "../resp.js";

const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const ints = (n) => Array.from({ length: n }, (_, i) => `:${i}\r\n`).join("");
// name → reply bytes. Names are sent as `REPLY <name>` (or `INFO <name>`: printed raw).
const CASES = {
  status: "+OK\r\n",
  statusSpaces: "+PONG with space\r\n",
  error: "-ERR unknown command 'FOO', with args beginning with: \r\n",
  wrongtype: "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
  integer: ":1\r\n",
  negative: ":-42\r\n",
  bulk: bulk("hello world"),
  emptyBulk: bulk(""),
  escapes: bulk('q"u\\o\n\t\r\x07\x08 é\x00\x7f'),
  nil: "$-1\r\n",
  nilArray: "*-1\r\n",
  resp3Null: "_\r\n",
  emptyArray: "*0\r\n",
  array: "*3\r\n" + bulk("a") + bulk("b") + bulk("c"),
  wideIndices: "*11\r\n" + ints(11),
  nested: "*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n:4\r\n:5\r\n",
  nestedFirst: "*2\r\n*2\r\n" + bulk("x") + bulk("y") + "*0\r\n",
  execLike: "*3\r\n+OK\r\n:2\r\n-ERR value is not an integer or out of range\r\n",
  nilsInArray: "*3\r\n-ERR x\r\n_\r\n$-1\r\n",
  map: "%2\r\n" + bulk("name") + bulk("Ada") + bulk("visits") + bulk("1"),
  mapStatusKey: "%1\r\n+k\r\n" + bulk("v"),
  mapMultilineValue: "%2\r\n" + bulk("a") + ":1\r\n" + bulk("z") + "*2\r\n:1\r\n:2\r\n",
  mapSingleNested: "%1\r\n" + bulk("k") + "*1\r\n*1\r\n:5\r\n",
  mapInMap: "%1\r\n" + bulk("k") + "%1\r\n" + bulk("k2") + bulk("v"),
  mapInArray: "*2\r\n" + bulk("a") + "%2\r\n" + bulk("k") + bulk("v") + bulk("k2") + "*2\r\n:1\r\n:2\r\n",
  wideMap: "%12\r\n" + Array.from({ length: 12 }, (_, i) => bulk(`f${i}`) + bulk("v")).join(""),
  emptyMap: "%0\r\n",
  set: "~2\r\n" + bulk("a") + bulk("b"),
  emptySet: "~0\r\n",
  setInArray: "*1\r\n~1\r\n" + bulk("m"),
  double: ",1.5\r\n",
  doubleInteger: ",3\r\n",
  doubleInf: ",inf\r\n",
  doubleNegInf: ",-inf\r\n",
  boolTrue: "#t\r\n",
  boolFalse: "#f\r\n",
  verbatim: "=15\r\ntxt:hello world\r\n",
  verbatimInArray: "*2\r\n+OK\r\n=7\r\ntxt:abc\r\n",
  zrangeResp3: "*2\r\n*2\r\n" + bulk("alice") + ",120\r\n*2\r\n" + bulk("bob") + ",95.5\r\n",
};
const RAW_CASES = {
  info: bulk("# Server\r\nredis_version:7.0.15\r\n"),
  infoArray: "*2\r\n" + bulk("a") + ":1\r\n",
};
// Lines as a user types them.
const LINES = [
  'SET "a key" \'a value\'',
  'SET k "tab\\there\\nnew \\x41\\x7a \\"q\\" \\\\ \\u"',
  "SET k 'it\\'s' \"\"",
  "SET  spaced\t  out ",
  'SET a"b c"',
  "SET é ünïcode",
  "GET \"\\x4\"",
];
const INVALID = ['SET "unterminated', "SET 'unterminated", 'SET "a"b c', "SET 'a'b c"];

// The fake server: `REPLY name` / `INFO name` get the canned reply, everything else +OK; the
// arguments of every request are recorded.
const received = [];
function parseRequests(buf) {
  const out = [];
  let i = 0;
  const lineEnd = () => buf.indexOf("\r\n", i);
  while (i < buf.length) {
    if (buf[i] !== 0x2a) throw new Error("fake server: inline request");
    let e = lineEnd();
    if (e < 0) break;
    const n = Number(buf.subarray(i + 1, e).toString());
    let j = e + 2;
    const argv = [];
    for (let k = 0; k < n; k++) {
      const le = buf.indexOf("\r\n", j);
      if (le < 0) return { out, rest: buf.subarray(i) };
      const len = Number(buf.subarray(j + 1, le).toString());
      if (le + 2 + len + 2 > buf.length) return { out, rest: buf.subarray(i) };
      argv.push(buf.subarray(le + 2, le + 2 + len));
      j = le + 2 + len + 2;
    }
    out.push(argv);
    i = j;
  }
  return { out, rest: buf.subarray(i) };
}
const server = net.createServer((socket) => {
  let pending = Buffer.alloc(0);
  socket.on("data", (data) => {
    const { out, rest } = parseRequests(Buffer.concat([pending, data]));
    pending = Buffer.from(rest);
    for (const argv of out) {
      const name = argv[0].toString().toUpperCase();
      if (name === "REPLY") socket.write(CASES[argv[1].toString()]);
      else if (name === "INFO") socket.write(RAW_CASES[argv[1].toString()]);
      else if (name === "COMMAND") socket.write("*0\r\n"); // redis-cli asks for command docs first
      else {
        received.push(argv);
        socket.write("+OK\r\n");
      }
    }
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = String(server.address().port);

let haveCli = true;
try {
  execFileSync("redis-cli", ["--version"], { stdio: "ignore" });
} catch {
  haveCli = false;
}

// redis-cli reading lines from a pipe splits them as when typed; --no-raw keeps its terminal
// format. It runs asynchronously: this process is also its server.
function asyncCli(input) {
  return new Promise((resolve, reject) => {
    const child = execFile("redis-cli", ["--no-raw", "-p", port], { encoding: "utf8" }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
    child.stdin.end(input);
  });
}

const failures = [];
const check = (name, got, want) => {
  if (got !== want) failures.push(`${name}:\n--- redis-cli\n${want}--- resp.js\n${got}`);
};
const enc = new TextEncoder();
let compared = 0;
try {
  for (const [group, cases, cmd] of [["REPLY", CASES, "REPLY"], ["INFO", RAW_CASES, "INFO"]]) {
    for (const [name, bytes] of Object.entries(cases)) {
      const replies = decodeReplies(enc.encode(bytes));
      if (replies.length !== 1) failures.push(`${name}: decoded ${replies.length} replies`);
      const got = formatReply(replies[0], [enc.encode(cmd), enc.encode(name)]);
      if (haveCli) {
        check(`${group} ${name}`, got, await asyncCli(`${cmd} ${name}\n`));
        compared++;
      }
    }
  }
  if (haveCli) {
    for (const line of LINES) {
      received.length = 0;
      await asyncCli(line + "\n");
      const want = received.map((argv) => argv.map((a) => [...a]));
      const got = [splitArgs(line).map((a) => [...a])];
      check(`split ${JSON.stringify(line)}`, JSON.stringify(got) + "\n", JSON.stringify(want) + "\n");
      compared++;
    }
    for (const line of INVALID) {
      received.length = 0;
      const out = await asyncCli(line + "\n");
      check(`invalid ${JSON.stringify(line)} (redis-cli)`, out, "Invalid argument(s)\n");
      let threw = false;
      try {
        splitArgs(line);
      } catch (err) {
        threw = err instanceof SplitError;
      }
      if (!threw || received.length) failures.push(`invalid ${JSON.stringify(line)}: resp.js accepted it`);
      compared++;
    }
  }
} finally {
  server.close();
}


// Checks that need no redis-cli: the pipeline's reply accounting and request encoding.
const argv = (line) => splitArgs(line);
const pushes = decodeReplies(
  enc.encode(
    "*3\r\n" + bulk("unsubscribe") + bulk("a") + ":1\r\n" + "*3\r\n" + bulk("unsubscribe") + bulk("b") + ":0\r\n" + "+PONG\r\n",
  ),
);
if (replyCount(argv("UNSUBSCRIBE"), pushes, 0) !== 2) failures.push("UNSUBSCRIBE with no channel takes its pushes");
if (replyCount(argv("SUBSCRIBE a b c"), pushes, 0) !== 3) failures.push("SUBSCRIBE takes one reply per channel");
if (replyCount(argv("GET a"), pushes, 0) !== 1) failures.push("GET takes one reply");
const request = new TextDecoder().decode(encodeCommands([argv('SET "a b" c'), ["GET", "x"]]));
if (request !== "*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$1\r\nc\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n") {
  failures.push(`encodeCommands: ${JSON.stringify(request)}`);
}
if (!haveCli) {
  // Without redis-cli, at least the renderings the e2e test relies on.
  const show = (bytes) => formatReply(decodeReplies(enc.encode(bytes))[0]);
  check("array", show(CASES.array), '1) "a"\n2) "b"\n3) "c"\n');
  check("map", show(CASES.map), '1# "name" => "Ada"\n2# "visits" => "1"\n');
  check("nested", show(CASES.nested), "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) (integer) 4\n3) (integer) 5\n");
  console.log("render: WARNING redis-cli not installed; checked resp.js against its own expectations only");
}

if (failures.length) {
  for (const f of failures) console.log("FAIL " + f);
  process.exit(1);
}
console.log(haveCli ? `render: ok (${compared} cases identical to redis-cli)` : "render: ok (redis-cli not run)");
