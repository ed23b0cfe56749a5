// The conformance notation in JavaScript (see conformance.txt and common.py): replies from
// execute() are brought to one canonical form and compared with expectations parsed from the
// notation. Integers are compared as BigInt, so values beyond 2^53 are exact.

/** Canonical form of a reply value from execute(). */
export function canon(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : value;
  if (typeof value === "boolean") return value;
  if (value instanceof Uint8Array) return { hex: [...value].map((b) => b.toString(16).padStart(2, "0")).join("") };
  if (value instanceof Error) return { error: value.message };
  if (Array.isArray(value)) return value.map(canon);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), canon(v)]));
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canon(v)]));
  throw new TypeError(`unexpected reply value ${value}`);
}

/** A stable text key for a canonical value. */
export function key(value) {
  if (value === null) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(key).join(",")}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${key(value[k])}`).join(",")}}`;
}

/** A JSON parser whose integers are BigInts. */
function parseJson(text) {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "[") {
      i++;
      const items = [];
      ws();
      if (text[i] === "]") {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return items;
        } else throw new SyntaxError(`bad array at ${i} in ${text}`);
      }
    }
    if (c === "{") {
      i++;
      const obj = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const k = value();
        ws();
        if (text[i++] !== ":") throw new SyntaxError(`bad object at ${i} in ${text}`);
        obj[k] = value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return obj;
        } else throw new SyntaxError(`bad object at ${i} in ${text}`);
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
      if (!m) throw new SyntaxError(`bad string at ${i} in ${text}`);
      i += m[0].length;
      return JSON.parse(m[0]);
    }
    const m = /^(?:null|true|false|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(text.slice(i));
    if (!m) throw new SyntaxError(`bad value at ${i} in ${text}`);
    i += m[0].length;
    if (m[0] === "null") return null;
    if (m[0] === "true") return true;
    if (m[0] === "false") return false;
    return /^-?\d+$/.test(m[0]) ? BigInt(m[0]) : Number(m[0]);
  };
  const result = value();
  ws();
  if (i !== text.length) throw new SyntaxError(`trailing text in ${text}`);
  return result;
}

/** Parses an expectation: `!error text`, `~[unordered]`, or JSON. */
export function parseExpected(text) {
  text = text.trimStart(); // only leading space: Redis error texts can end with a space
  if (text.startsWith("!")) return { error: text.slice(1) };
  if (text.startsWith("~")) return { unordered: parseJson(text.slice(1)) };
  return { exact: parseJson(text) };
}

export function matches(actual, expected) {
  if ("unordered" in expected) {
    return Array.isArray(actual) && key(actual.map(key).sort()) === key(expected.unordered.map(key).sort());
  }
  const want = "exact" in expected ? expected.exact : { error: expected.error };
  return key(actual) === key(want);
}

export function show(value) {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && "error" in value) {
    return `!${value.error}`;
  }
  return key(value);
}

/** Cases of conformance.txt: {no, command, expected, requires: [names]} */
export function parseCases(text) {
  const cases = [];
  let requires = [];
  text.split("\n").forEach((line, index) => {
    const stripped = line.trim();
    if (stripped.startsWith("# requires:")) {
      requires = stripped.slice("# requires:".length).toLowerCase().split(/\s+/).filter(Boolean);
      return;
    }
    if (stripped === "# end") {
      requires = [];
      return;
    }
    if (!stripped || stripped.startsWith("#")) return;
    const at = line.indexOf(" => ");
    if (at < 0) throw new SyntaxError(`conformance.txt:${index + 1}: no ' => '`);
    cases.push({ no: index + 1, command: line.slice(0, at), expected: line.slice(at + 4), requires });
  });
  return cases;
}

/** Runs a command; error replies come back as {error} instead of throwing. */
export async function run(db, command) {
  try {
    return canon(typeof command === "string" ? await db.execute(command) : await db.executeArgs(command));
  } catch (err) {
    return { error: err.message };
  }
}

export function isUnknownCommand(value) {
  return value !== null && typeof value === "object" && typeof value.error === "string" && value.error.startsWith("ERR unknown command");
}
