// The key browser: the first keys (SCAN, bounded), each with its type and TTL, and the value of
// the chosen one read with the command for its type. Every read is one RESP pipeline through
// the same session as the console, so it sees the database the console selected.
import { repr, text } from "./resp.js";

/** At most this many keys are listed, and at most this many items of a value shown. */
export const KEY_LIMIT = 200;
export const ITEM_LIMIT = 100;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes as readable text when they are printable UTF-8, else as redis-cli quotes them. */
export function display(bytes) {
  try {
    const s = utf8.decode(bytes);
    if (!/[\u0000-\u001f\u007f]/.test(s)) return s;
  } catch {
    // not UTF-8: fall through to the quoted form
  }
  return repr(bytes);
}

/** "12.5 s", "3 min", "2 h 5 min": a PTTL in milliseconds, shortened. */
export function formatTtl(ms) {
  if (ms < 0) return "—";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.round(h / 24)} d`;
}

const keyId = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export class KeyBrowser {
  /**
   * @param {(commands: Array<Array<string|Uint8Array>>) => Promise<object[]|null>} run
   *   runs a pipeline and resolves to its decoded replies, or null while the session cannot
   *   take reads (a transaction or subscription is open).
   */
  constructor(run) {
    this.run = run;
    this.tbody = document.querySelector("#key-table tbody");
    this.count = document.getElementById("key-count");
    this.pattern = document.getElementById("key-pattern");
    this.view = document.getElementById("value-view");
    this.keys = [];
    this.selected = null; // hex id of the key shown
    this.tbody.addEventListener("keydown", (event) => this.moveFocus(event));
  }

  /** Lists the keys again (and the value shown, if any). */
  async refresh() {
    const pattern = this.pattern.value.trim() || "*";
    const keys = new Map();
    let cursor = "0";
    // Bounded: a few SCAN rounds are enough for the first KEY_LIMIT keys of a demo database.
    for (let round = 0; round < 64; round++) {
      const replies = await this.run([["SCAN", cursor, "MATCH", pattern, "COUNT", "100"]]);
      if (!replies) return this.paused();
      const [scan] = replies;
      if (scan.type === "error") return this.failed(scan);
      cursor = text(scan.items[0].bytes);
      for (const item of scan.items[1].items) keys.set(keyId(item.bytes), item.bytes);
      if (cursor === "0" || keys.size >= KEY_LIMIT) break;
    }
    const names = [...keys.values()]
      .map((bytes) => ({ bytes, label: display(bytes) }))
      .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
      .slice(0, KEY_LIMIT);
    const commands = [["DBSIZE"]];
    for (const k of names) commands.push(["TYPE", k.bytes], ["PTTL", k.bytes]);
    const replies = await this.run(commands);
    if (!replies) return this.paused();
    const total = Number(replies[0].text);
    this.keys = names.map((k, i) => ({
      ...k,
      id: keyId(k.bytes),
      type: text(replies[1 + 2 * i].bytes),
      pttl: Number(replies[2 + 2 * i].text),
    }));
    // A key deleted between SCAN and TYPE reads as "none".
    this.keys = this.keys.filter((k) => k.type !== "none");
    const shown = this.keys.length;
    const more = cursor !== "0" || shown < (pattern === "*" ? total : shown);
    this.count.textContent =
      pattern === "*"
        ? `${total} key${total === 1 ? "" : "s"}${more ? `, first ${shown} shown` : ""}`
        : `${shown}${more ? "+" : ""} matching of ${total}`;
    this.render();
    if (this.selected) await this.show(this.selected, { quiet: true });
  }

  paused() {
    this.count.textContent = "paused: a transaction or subscription is open in the console";
  }

  failed(reply) {
    this.count.textContent = `cannot list keys: ${text(reply.bytes)}`;
  }

  render() {
    const focused = document.activeElement?.closest?.("#key-table button")?.dataset.id;
    this.tbody.replaceChildren();
    // One tab stop for the whole list (the key shown, else the first); arrow keys move within it.
    const current = this.keys.some((k) => k.id === this.selected) ? this.selected : this.keys[0]?.id;
    for (const k of this.keys) {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "key";
      button.dataset.id = k.id;
      button.textContent = k.label;
      button.setAttribute("aria-pressed", String(k.id === this.selected));
      button.tabIndex = k.id === current ? 0 : -1;
      button.addEventListener("click", () => this.show(k.id));
      name.append(button);
      const type = document.createElement("td");
      type.textContent = k.type;
      type.className = `type t-${k.type}`;
      const ttl = document.createElement("td");
      ttl.textContent = formatTtl(k.pttl);
      ttl.className = "ttl";
      row.append(name, type, ttl);
      this.tbody.append(row);
    }
    if (!this.keys.length) {
      const row = document.createElement("tr");
      row.innerHTML = '<td colspan="3" class="hint">No keys. Try <code>SET greeting hello</code> or an example.</td>';
      this.tbody.append(row);
    }
    if (focused) this.tbody.querySelector(`button[data-id="${focused}"]`)?.focus();
  }

  moveFocus(event) {
    const buttons = [...this.tbody.querySelectorAll("button.key")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to === undefined || to < 0 || to >= buttons.length) return;
    event.preventDefault();
    buttons[at].tabIndex = -1;
    buttons[to].tabIndex = 0;
    buttons[to].focus();
  }

  /** Shows the value of the key with this id. */
  async show(id, { quiet = false } = {}) {
    const key = this.keys.find((k) => k.id === id);
    this.selected = id;
    for (const b of this.tbody.querySelectorAll("button.key")) b.setAttribute("aria-pressed", String(b.dataset.id === id));
    if (!key) {
      this.view.replaceChildren(note(quiet ? "The key shown before no longer exists." : "That key no longer exists."));
      this.selected = null;
      return;
    }
    const k = key.bytes;
    const reads = {
      string: [["STRLEN", k], ["GETRANGE", k, "0", "4095"]],
      hash: [["HLEN", k], ["HSCAN", k, "0", "COUNT", String(ITEM_LIMIT)]],
      list: [["LLEN", k], ["LRANGE", k, "0", String(ITEM_LIMIT - 1)]],
      set: [["SCARD", k], ["SSCAN", k, "0", "COUNT", String(ITEM_LIMIT)]],
      zset: [["ZCARD", k], ["ZRANGE", k, "0", String(ITEM_LIMIT - 1), "WITHSCORES"]],
    }[key.type];
    if (!reads) {
      this.view.replaceChildren(heading(key, ""), note(`The browser does not show ${key.type} values.`));
      return;
    }
    // Small hashes and sets are read whole (HGETALL, SMEMBERS); SCAN keeps big ones bounded.
    const replies = await this.run(reads);
    if (!replies) return this.paused();
    const size = Number(replies[0].text);
    if (replies[1].type === "error") {
      this.view.replaceChildren(heading(key, ""), note(text(replies[1].bytes)));
      return;
    }
    let body = replies[1];
    if ((key.type === "hash" || key.type === "set") && size <= ITEM_LIMIT) {
      const whole = await this.run([[key.type === "hash" ? "HGETALL" : "SMEMBERS", k]]);
      if (!whole) return this.paused();
      body = whole[0];
    }
    this.view.replaceChildren(...renderValue(key, size, body));
  }
}

function note(message) {
  const p = document.createElement("p");
  p.className = "hint";
  p.textContent = message;
  return p;
}

function heading(key, detail) {
  const h = document.createElement("h3");
  const name = document.createElement("span");
  name.className = "key-name";
  name.textContent = key.label;
  h.append(name, ` ${key.type}${detail ? ", " + detail : ""}, ${key.pttl < 0 ? "no expiry" : "expires in " + formatTtl(key.pttl)}`);
  return h;
}

/** Items of an array, set or map reply as flat byte strings / texts. */
function flat(reply) {
  if (reply.type === "map") return reply.pairs.flat();
  const items = reply.type === "array" && reply.items.length === 2 && reply.items[1].items ? reply.items[1].items : reply.items;
  return items ?? [];
}

const cell = (reply) => (reply.bytes ? display(reply.bytes) : reply.text ?? "");

function table(headers, rows) {
  const t = document.createElement("table");
  t.className = "value";
  const head = t.createTHead().insertRow();
  for (const h of headers) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = h;
    head.append(th);
  }
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const c of r) tr.insertCell().textContent = c;
  }
  return t;
}

function renderValue(key, size, reply) {
  const shownOf = (n, unit) => `${size} ${unit}${size === 1 ? "" : "s"}${n < size ? `, first ${n} shown` : ""}`;
  switch (key.type) {
    case "string": {
      const pre = document.createElement("pre");
      pre.className = "string-value";
      pre.textContent = display(reply.bytes);
      return [heading(key, `${size} byte${size === 1 ? "" : "s"}${size > 4096 ? ", first 4096 shown" : ""}`), pre];
    }
    case "hash": {
      const items = flat(reply);
      const rows = [];
      for (let i = 0; i + 1 < items.length; i += 2) rows.push([cell(items[i]), cell(items[i + 1])]);
      rows.sort((a, b) => (a[0] < b[0] ? -1 : 1));
      return [heading(key, shownOf(rows.length, "field")), table(["Field", "Value"], rows)];
    }
    case "list": {
      const rows = reply.items.map((item, i) => [String(i), cell(item)]);
      return [heading(key, shownOf(rows.length, "item")), table(["Index", "Item"], rows)];
    }
    case "set": {
      const rows = flat(reply).map((m) => [cell(m)]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      return [heading(key, shownOf(rows.length, "member")), table(["Member"], rows)];
    }
    case "zset": {
      // RESP2: member, score, member, score…  RESP3 (after HELLO 3): [member, score] pairs.
      const items = reply.items.flatMap((x) => (x.type === "array" ? x.items : [x]));
      const rows = [];
      for (let i = 0; i + 1 < items.length; i += 2) rows.push([String(i / 2), cell(items[i]), cell(items[i + 1])]);
      return [heading(key, shownOf(rows.length, "member")), table(["Rank", "Member", "Score"], rows)];
    }
    default:
      return [heading(key, "")];
  }
}
