// The demo's wire layer, pure functions shared by the page and the Node tests: redis-cli's line
// splitting (sdssplitargs), RESP request encoding, RESP2/RESP3 reply decoding, and redis-cli's
// TTY rendering of replies. The console talks RESP to the engine (`executeResp`) rather than
// using `execute()`'s JavaScript values, because redis-cli's output depends on what those values
// lose: a status reply prints bare (`OK`) while a bulk string prints quoted (`"OK"`), a RESP3 set
// numbers its members `1~`, a double prints as sent (`(double) 1.5`).

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** Raised for a line redis-cli refuses ("Invalid argument(s)"): an unbalanced quote. */
export class SplitError extends Error {}

const isSpace = (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isHex = (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const BACKSLASH_ESCAPES = { n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, a: 0x07 };

/**
 * Splits one line into arguments (byte arrays) exactly as redis-cli does (Redis's
 * sdssplitargs): "double quotes" take \n \r \t \b \a \xHH and \<any>, 'single quotes' take only
 * \', a closing quote must end the argument, and quotes may start inside a word (a"b c" is
 * `ab c`). Throws SplitError where redis-cli prints "Invalid argument(s)".
 */
export function splitArgs(line) {
  const p = encoder.encode(line);
  const args = [];
  let i = 0;
  for (;;) {
    while (i < p.length && isSpace(p[i])) i++;
    if (i >= p.length) return args;
    const cur = [];
    let inDouble = false;
    let inSingle = false;
    for (let done = false; !done; ) {
      const c = p[i]; // undefined at the end of the line, as C's '\0'
      if (inDouble) {
        if (c === 0x5c && p[i + 1] === 0x78 && isHex(p[i + 2]) && isHex(p[i + 3])) {
          cur.push(parseInt(String.fromCharCode(p[i + 2], p[i + 3]), 16));
          i += 3;
        } else if (c === 0x5c && i + 1 < p.length) {
          i++;
          cur.push(BACKSLASH_ESCAPES[String.fromCharCode(p[i])] ?? p[i]);
        } else if (c === 0x22) {
          if (i + 1 < p.length && !isSpace(p[i + 1])) throw new SplitError("Invalid argument(s)");
          done = true;
        } else if (c === undefined) {
          throw new SplitError("Invalid argument(s)");
        } else {
          cur.push(c);
        }
      } else if (inSingle) {
        if (c === 0x5c && p[i + 1] === 0x27) {
          i++;
          cur.push(0x27);
        } else if (c === 0x27) {
          if (i + 1 < p.length && !isSpace(p[i + 1])) throw new SplitError("Invalid argument(s)");
          done = true;
        } else if (c === undefined) {
          throw new SplitError("Invalid argument(s)");
        } else {
          cur.push(c);
        }
      } else if (c === undefined || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        done = true;
      } else if (c === 0x22) {
        inDouble = true;
      } else if (c === 0x27) {
        inSingle = true;
      } else {
        cur.push(c);
      }
      if (i < p.length) i++;
    }
    args.push(Uint8Array.from(cur));
  }
}

/** Encodes commands (arrays of strings or byte arrays) as RESP multibulk requests, one buffer. */
export function encodeCommands(commands) {
  const parts = [];
  let size = 0;
  const add = (bytes) => {
    parts.push(bytes);
    size += bytes.length;
  };
  for (const argv of commands) {
    add(encoder.encode(`*${argv.length}\r\n`));
    for (const arg of argv) {
      const bytes = typeof arg === "string" ? encoder.encode(arg) : arg;
      add(encoder.encode(`$${bytes.length}\r\n`));
      add(bytes);
      add(encoder.encode("\r\n"));
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * A decoded reply keeps its RESP type, since rendering depends on it:
 * {type: "status"|"error"|"bulk"|"verbatim", bytes} · {type: "integer"|"double"|"bignum", text}
 * {type: "nil"} · {type: "bool", value} · {type: "array"|"set"|"push", items}
 * {type: "map", pairs: [[key, value], ...]}
 */
export function decodeReplies(buf) {
  const replies = [];
  const pos = { i: 0 };
  while (pos.i < buf.length) replies.push(decodeOne(buf, pos, 0));
  return replies;
}

function line(buf, pos) {
  for (let j = pos.i; j + 1 < buf.length; j++) {
    if (buf[j] === 0x0d && buf[j + 1] === 0x0a) {
      const out = buf.subarray(pos.i, j);
      pos.i = j + 2;
      return out;
    }
  }
  throw new Error("malformed RESP reply (no CRLF)");
}

function decodeOne(buf, pos, depth) {
  if (depth > 256) throw new Error("malformed RESP reply (nested too deeply)");
  const kind = String.fromCharCode(buf[pos.i++]);
  const head = line(buf, pos);
  const text = () => utf8.decode(head);
  const count = () => {
    const n = Number(text());
    if (!Number.isInteger(n)) throw new Error("malformed RESP reply (bad length)");
    return n;
  };
  switch (kind) {
    case "+":
      return { type: "status", bytes: head };
    case "-":
      return { type: "error", bytes: head };
    case ":":
      return { type: "integer", text: text() };
    case ",":
      return { type: "double", text: text() };
    case "(":
      return { type: "bignum", text: text() };
    case "#":
      return { type: "bool", value: text() === "t" };
    case "_":
      return { type: "nil" };
    case "$":
    case "!":
    case "=": {
      const n = count();
      if (n < 0) return { type: "nil" };
      const bytes = buf.subarray(pos.i, pos.i + n);
      if (bytes.length !== n || buf[pos.i + n] !== 0x0d || buf[pos.i + n + 1] !== 0x0a) {
        throw new Error("malformed RESP reply (short bulk string)");
      }
      pos.i += n + 2;
      if (kind === "!") return { type: "error", bytes };
      // A verbatim string starts with its format ("txt:"), which redis-cli does not print.
      if (kind === "=") return { type: "verbatim", bytes: bytes.subarray(4) };
      return { type: "bulk", bytes };
    }
    case "*":
    case "~":
    case ">": {
      const n = count();
      if (n < 0) return { type: "nil" };
      const items = [];
      for (let k = 0; k < n; k++) items.push(decodeOne(buf, pos, depth + 1));
      return { type: kind === "*" ? "array" : kind === "~" ? "set" : "push", items };
    }
    case "%":
    case "|": {
      const n = count();
      const pairs = [];
      for (let k = 0; k < n; k++) pairs.push([decodeOne(buf, pos, depth + 1), decodeOne(buf, pos, depth + 1)]);
      // An attribute describes the reply after it; redis-cli shows only that reply.
      if (kind === "|") return decodeOne(buf, pos, depth + 1);
      return { type: "map", pairs };
    }
    default:
      throw new Error(`malformed RESP reply (type byte ${JSON.stringify(kind)})`);
  }
}

/** Bytes as redis-cli quotes them (sdscatrepr): printable ASCII as is, the rest escaped. */
export function repr(bytes) {
  let s = '"';
  for (const c of bytes) {
    if (c === 0x5c) s += "\\\\";
    else if (c === 0x22) s += '\\"';
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x0d) s += "\\r";
    else if (c === 0x09) s += "\\t";
    else if (c === 0x07) s += "\\a";
    else if (c === 0x08) s += "\\b";
    else if (c >= 0x20 && c <= 0x7e) s += String.fromCharCode(c);
    else s += "\\x" + c.toString(16).padStart(2, "0");
  }
  return s + '"';
}

/** The text of a status, error or verbatim reply, which redis-cli writes to the terminal raw. */
export const text = (bytes) => utf8.decode(bytes);

function isMultiline(r) {
  switch (r.type) {
    case "array":
    case "set":
    case "push":
      return r.items.length > 1 || (r.items.length === 1 && isMultiline(r.items[0]));
    case "map":
      return r.pairs.length > 1 || (r.pairs.length === 1 && isMultiline(r.pairs[0][1]));
    default:
      return false;
  }
}

const EMPTY = { array: "(empty array)", set: "(empty set)", map: "(empty hash)", push: "(empty push)" };

/** One reply as redis-cli prints it on a terminal (cliFormatReplyTTY), ending with "\n". */
export function formatTTY(r, prefix = "") {
  switch (r.type) {
    case "error":
      return `(error) ${text(r.bytes)}\n`;
    case "status":
    case "verbatim":
      return `${text(r.bytes)}\n`;
    case "integer":
      return `(integer) ${r.text}\n`;
    case "double":
      return `(double) ${r.text}\n`;
    case "bignum":
      return `(big number) ${r.text}\n`;
    case "bulk":
      return `${repr(r.bytes)}\n`;
    case "nil":
      return "(nil)\n";
    case "bool":
      return r.value ? "(true)\n" : "(false)\n";
    case "array":
    case "set":
    case "push":
    case "map": {
      const entries = r.type === "map" ? r.pairs : r.items.map((item) => [item]);
      if (entries.length === 0) return `${EMPTY[r.type]}\n`;
      // Indices are right-aligned to the widest one; nested replies indent past it.
      const width = String(entries.length).length;
      const inner = prefix + " ".repeat(width + 2);
      const sep = r.type === "set" ? "~" : r.type === "map" ? "#" : ")";
      let out = "";
      entries.forEach(([first, value], i) => {
        out += `${i === 0 ? "" : prefix}${String(i + 1).padStart(width)}${sep} `;
        out += formatTTY(first, inner);
        if (r.type === "map") {
          out = out.slice(0, -1) + " => ";
          if (isMultiline(value)) out += "\n" + inner;
          out += formatTTY(value, inner);
        }
      });
      return out;
    }
    default:
      throw new Error(`unknown reply type ${r.type}`);
  }
}

/** Raw output, which redis-cli uses for a few commands made of human-readable text (INFO). */
export function formatRaw(r) {
  switch (r.type) {
    case "nil":
      return "";
    case "error":
    case "status":
    case "verbatim":
    case "bulk":
      return text(r.bytes);
    case "integer":
    case "double":
    case "bignum":
      return r.text;
    case "bool":
      return r.value ? "(true)" : "(false)";
    case "map":
      return r.pairs.map(([k, v]) => `${formatRaw(k)} ${formatRaw(v)}`).join("\n");
    default:
      return r.items.map(formatRaw).join("\n");
  }
}

/** Whether redis-cli prints this command's reply raw instead of formatted (its own list). */
export function printsRaw(argv) {
  const word = (k) => (argv[k] === undefined ? "" : text(argv[k]).toLowerCase());
  const [cmd, sub, n] = [word(0), word(1), argv.length];
  return (
    cmd === "info" ||
    cmd === "lolwut" ||
    (n >= 2 && cmd === "debug" && ["htstats", "htstats-key", "client-eviction"].includes(sub)) ||
    (n >= 2 && cmd === "memory" && ["malloc-stats", "doctor"].includes(sub)) ||
    (n === 2 && cmd === "cluster" && ["nodes", "info"].includes(sub)) ||
    (n >= 2 && cmd === "client" && ["list", "info"].includes(sub)) ||
    (n === 3 && cmd === "latency" && sub === "graph") ||
    (n === 2 && cmd === "latency" && sub === "doctor")
  );
}

/** A reply printed for the command that produced it, as redis-cli's interactive mode does. */
export function formatReply(reply, argv = []) {
  return printsRaw(argv) ? formatRaw(reply) : formatTTY(reply);
}

/**
 * How many replies a command produces when pipelined: one, except the subscribe family, which
 * answers once per channel (or, with no channel, once per channel it leaves).
 */
export function replyCount(argv, replies, start) {
  const name = argv.length ? text(argv[0]).toLowerCase() : "";
  if (!/^[ps]?(un)?subscribe$/.test(name)) return 1;
  if (argv.length > 1) return argv.length - 1;
  // UNSUBSCRIBE with no channel: every following push for this command belongs to it.
  let n = 0;
  for (let k = start; k < replies.length; k++) {
    const r = replies[k];
    const head = (r.type === "array" || r.type === "push") && r.items[0];
    if (!head || !head.bytes || text(head.bytes).toLowerCase() !== name) break;
    n++;
  }
  return Math.max(n, 1);
}
