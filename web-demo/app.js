// The demo page: a redis-cli-like console, the storage switch, the key browser, export and
// import, example scripts and the benchmark, all on the npm package `diskdb`.
import { open } from "diskdb";
import { decodeReplies, encodeCommands, formatReply, replyCount, splitArgs, SplitError, text } from "./resp.js";
import { EXAMPLES } from "./examples.js";
import { KeyBrowser } from "./keys.js";
import { drawChart, formatLatency, formatOps, runBenchmark } from "./bench.js";

const $ = (id) => document.getElementById(id);
const OPFS_NAME = "demo";
const STORAGE_PREF = "diskdb-demo:storage";
const HISTORY_PREF = "diskdb-demo:history";
const HISTORY_MAX = 200;
const BENCH_SECONDS = 3;

const state = {
  db: null,
  storage: null,
  // The console session as the engine sees it, tracked from the replies: the prompt shows it,
  // and the key browser and benchmark must not run inside a transaction or a subscription
  // (their commands would be queued into the user's MULTI, or refused).
  session: { db: 0, tx: false, subscriptions: 0 },
};

// One operation on the database at a time: a storage switch must not close the database under
// a key refresh, and a key refresh must not interleave with a benchmark.
let chain = Promise.resolve();
function exclusive(fn) {
  const result = chain.then(fn);
  chain = result.catch(() => {});
  return result;
}

// ---------------------------------------------------------------- console output

const output = $("output");

// Each run of lines is one block in the output: its lines echoed, each followed by its replies.
let block = output;

function entry(className) {
  const div = document.createElement("div");
  div.className = `entry ${className}`;
  block.append(div);
  return div;
}

function echo(line, prompt = promptText()) {
  const div = entry("in");
  const p = document.createElement("span");
  p.className = "prompt";
  p.textContent = prompt;
  div.append(p, " ", line);
}

function print(textOut, className = "out") {
  const pre = document.createElement("pre");
  pre.className = `entry ${className}`;
  // Raw replies (INFO) carry \r\n line ends.
  pre.textContent = textOut.replace(/\r\n/g, "\n").replace(/\n$/, "");
  block.append(pre);
  return pre;
}

function note(message) {
  print(message, "note");
}

function scrollOutput() {
  output.scrollTop = output.scrollHeight;
}

function promptText() {
  const { db, tx } = state.session;
  return `diskdb${db ? `[${db}]` : ""}${tx ? "(TX)" : ""}>`;
}

function updatePrompt() {
  $("prompt-label").textContent = promptText();
}

const HELP = `DiskDB speaks Redis: type any command, e.g.
  SET greeting "hello world"     GET greeting
  HSET user:1 name Ada visits 1  HGETALL user:1
  RPUSH queue a b c              LRANGE queue 0 -1
  ZADD board 10 ada 7 bob        ZRANGE board 0 -1 WITHSCORES
  EXPIRE greeting 60             TTL greeting
  HELLO 3 switches to RESP3 replies; MULTI ... EXEC runs a transaction.
Quoting works as in redis-cli ("a b", 'it\\'s', "\\x00"); "3 INCR n" repeats a command.
Paste several lines to run them as one pipeline. Lines starting with # are comments.
Local commands: help, clear.`;

// ---------------------------------------------------------------- running commands

/** Tracks what the session became after one command and its replies. */
function track(argv, replies) {
  const name = text(argv[0]).toLowerCase();
  const first = replies[0];
  const ok = first && first.type === "status" && text(first.bytes) === "OK";
  const s = state.session;
  if (name === "multi" && ok) s.tx = true;
  else if (name === "exec" || name === "discard") s.tx = false;
  else if (name === "select" && ok && !s.tx) s.db = Number(text(argv[1]));
  else if (name === "reset" && first?.type === "status") Object.assign(s, { db: 0, tx: false, subscriptions: 0 });
  else if (/^[ps]?(un)?subscribe$/.test(name)) {
    const last = replies[replies.length - 1];
    const count = last?.items?.[2];
    if (count?.type === "integer") s.subscriptions = Number(count.text);
  }
}

/**
 * Runs a block of lines as redis-cli would, one pipeline for all of them: echoes each line,
 * then prints each command's replies under it.
 */
async function runBlock(source, { record = true } = {}) {
  const items = [];
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      items.push({ kind: "comment", line });
      continue;
    }
    const lower = line.toLowerCase();
    if (lower === "clear" || lower === "help") {
      items.push({ kind: lower, line });
      continue;
    }
    try {
      let argv = splitArgs(line);
      let repeat = 1;
      // redis-cli's repeat prefix: "3 INCR n" runs INCR n three times.
      if (argv.length > 1 && /^[+-]?\d+$/.test(text(argv[0]))) {
        repeat = Number(text(argv[0]));
        argv = argv.slice(1);
        if (repeat <= 0 || repeat > 10000) {
          items.push({ kind: "invalid", line, message: "Invalid redis-cli repeat command option value." });
          continue;
        }
      }
      if (argv.length) items.push({ kind: "command", line, argv, repeat });
    } catch (err) {
      if (!(err instanceof SplitError)) throw err;
      items.push({ kind: "invalid", line, message: "Invalid argument(s)" });
    }
  }
  if (!items.length) return;
  if (record) remember(source.trim());

  const commands = items.filter((it) => it.kind === "command").flatMap((it) => Array(it.repeat).fill(it.argv));
  let replies = [];
  let failure = null;
  if (commands.length) {
    try {
      replies = await exclusive(async () => decodeReplies(await state.db.executeResp(encodeCommands(commands))));
    } catch (err) {
      failure = err;
    }
  }
  block = document.createElement("div");
  block.className = "block";
  output.append(block);
  try {
    printBlock(items, replies, failure);
  } finally {
    block = output;
  }
  scrollOutput();
  if (commands.length) await refreshKeys();
  // Counts finished runs, key browser included: what a test waits for.
  output.dataset.blocks = String(Number(output.dataset.blocks ?? 0) + 1);
}

function printBlock(items, replies, failure) {
  let next = 0;
  for (const it of items) {
    if (it.kind === "clear") {
      output.replaceChildren(block);
      block.replaceChildren();
      continue;
    }
    if (it.kind === "comment") {
      entry("in comment").textContent = it.line;
      continue;
    }
    echo(it.line);
    if (it.kind === "help") print(HELP, "note");
    else if (it.kind === "invalid") print(it.message, "out error");
    else if (failure) print(`(error) ${failure.message}`, "out error");
    else {
      let out = "";
      let error = false;
      for (let r = 0; r < it.repeat; r++) {
        const n = replyCount(it.argv, replies, next);
        const mine = replies.slice(next, next + n);
        next += n;
        for (const reply of mine) {
          out += formatReply(reply, it.argv);
          error ||= reply.type === "error";
        }
        track(it.argv, mine);
      }
      // After QUIT the engine answers nothing more in this pipeline.
      if (out) print(out, error ? "out error" : "out");
    }
    updatePrompt();
  }
  if (next < replies.length && !failure) {
    print(replies.slice(next).map((r) => formatReply(r)).join(""), "out");
  }
}

// ---------------------------------------------------------------- prompt and history

const prompt = $("prompt");
let history = [];
try {
  history = JSON.parse(localStorage.getItem(HISTORY_PREF) ?? "[]").slice(-HISTORY_MAX);
} catch {
  history = [];
}
let historyAt = history.length; // history.length means "the line being written"
let draft = "";

function remember(source) {
  if (history[history.length - 1] !== source) history.push(source);
  history = history.slice(-HISTORY_MAX);
  historyAt = history.length;
  draft = "";
  try {
    localStorage.setItem(HISTORY_PREF, JSON.stringify(history));
  } catch {
    // storage full or disabled: the history lives for this page only
  }
}

function setPrompt(value, caretAtStart = false) {
  prompt.value = value;
  autosize();
  const at = caretAtStart ? 0 : value.length;
  prompt.setSelectionRange(at, at);
}

function autosize() {
  prompt.rows = Math.min(10, Math.max(1, prompt.value.split("\n").length));
}

prompt.addEventListener("input", autosize);
prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
    return;
  }
  const before = prompt.value.slice(0, prompt.selectionStart);
  const after = prompt.value.slice(prompt.selectionEnd);
  // Up and down walk the history from the first and last line; inside a block they move the caret.
  if (event.key === "ArrowUp" && !before.includes("\n") && historyAt > 0) {
    event.preventDefault();
    if (historyAt === history.length) draft = prompt.value;
    historyAt--;
    setPrompt(history[historyAt]);
  } else if (event.key === "ArrowDown" && !after.includes("\n") && historyAt < history.length) {
    event.preventDefault();
    historyAt++;
    setPrompt(historyAt === history.length ? draft : history[historyAt]);
  } else if (event.key === "l" && event.ctrlKey) {
    event.preventDefault(); // Ctrl+L clears, as in redis-cli
    output.replaceChildren();
  }
});

let running = Promise.resolve();
function submit() {
  const source = prompt.value;
  setPrompt("");
  // Lines typed while a block runs wait their turn, in order.
  running = running.then(() => runBlock(source)).catch(showError);
  return running;
}

$("prompt-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
  prompt.focus();
});

for (const button of document.querySelectorAll("[data-example]")) {
  button.addEventListener("click", () => {
    running = running.then(() => runBlock(EXAMPLES[button.dataset.example], { record: false })).catch(showError);
  });
}

function showError(err) {
  // Unexpected failures (a dead worker) go to the console, where the user is looking.
  print(`(error) ${err?.message ?? err}`, "out error");
  scrollOutput();
}

// ---------------------------------------------------------------- key browser

/** Runs reads for the key browser; null while the session is in a transaction or subscribed. */
function readPipeline(commands) {
  if (state.session.tx || state.session.subscriptions > 0) return Promise.resolve(null);
  return exclusive(async () => decodeReplies(await state.db.executeResp(encodeCommands(commands))));
}

const keys = new KeyBrowser(readPipeline);
function refreshKeys() {
  return keys.refresh().catch((err) => {
    $("key-count").textContent = `cannot list keys: ${err.message}`;
  });
}
$("keys-form").addEventListener("submit", (event) => {
  event.preventDefault();
  refreshKeys();
});

// ---------------------------------------------------------------- storage

const STATUS = {
  memory: "Memory: this tab only, gone on reload",
  opfs: `OPFS: diskdb/${OPFS_NAME}.redb in this site's private storage, kept across reloads`,
};

/** Opens OPFS, retrying briefly: right after a reload the old page may still hold the lock. */
async function openOpfs() {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open({ storage: "opfs", name: OPFS_NAME });
    } catch (err) {
      if (attempt >= 8 || !/already open/.test(err.message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 150 * (attempt + 1)));
    }
  }
}

async function useStorage(kind) {
  document.body.dataset.storage = "";
  $("storage-status").textContent = "opening…";
  const opened = await exclusive(async () => {
    if (state.db) {
      const old = state.db;
      state.db = null;
      await old.close().catch(() => {});
    }
    let db;
    let fallback = null;
    try {
      db = kind === "opfs" ? await openOpfs() : await open({ storage: "memory" });
    } catch (err) {
      if (kind !== "opfs") throw err;
      fallback = err;
      kind = "memory";
      db = await open({ storage: "memory" });
    }
    state.db = db;
    state.storage = kind;
    state.session = { db: 0, tx: false, subscriptions: 0 };
    return { kind, fallback };
  });
  if (opened.fallback) note(`Could not open OPFS (${opened.fallback.message}); using memory.`);
  else {
    try {
      localStorage.setItem(STORAGE_PREF, opened.kind);
    } catch {
      // no localStorage: the choice lasts for this page
    }
  }
  $("use-memory").setAttribute("aria-pressed", String(opened.kind === "memory"));
  $("use-opfs").setAttribute("aria-pressed", String(opened.kind === "opfs"));
  $("storage-status").textContent = STATUS[opened.kind];
  updatePrompt();
  await refreshKeys();
  const count = $("key-count").textContent;
  note(`Storage: ${opened.kind === "opfs" ? `OPFS (diskdb/${OPFS_NAME}.redb)` : "memory"}; ${count || "ready"}.`);
  scrollOutput();
  document.body.dataset.storage = opened.kind;
}

for (const [id, kind] of [["use-memory", "memory"], ["use-opfs", "opfs"]]) {
  $(id).addEventListener("click", () => {
    if (state.storage !== kind) running = running.then(() => useStorage(kind)).catch(showError);
  });
}

// ---------------------------------------------------------------- export and import

const dataStatus = $("data-status");

$("export").addEventListener("click", () => {
  running = running
    .then(async () => {
      const bytes = await exclusive(() => state.db.export());
      const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = "diskdb.redb";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      // Exporting closes and reopens the engine: the session starts afresh.
      const fresh = state.session.db !== 0 || state.session.tx;
      state.session = { db: 0, tx: false, subscriptions: 0 };
      updatePrompt();
      dataStatus.textContent = `Exported diskdb.redb (${bytes.length.toLocaleString("en-US")} bytes).`;
      if (fresh) note("The export restarted the session (database 0, no transaction).");
    })
    .catch((err) => {
      dataStatus.textContent = `Export failed: ${err.message}`;
    });
});

const fileInput = $("import-file");
$("import").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => {
  const file = fileInput.files[0];
  if (!file) return;
  running = running
    .then(async () => {
      dataStatus.textContent = `Importing ${file.name}…`;
      const bytes = new Uint8Array(await file.arrayBuffer());
      await exclusive(() => state.db.import(bytes));
      state.session = { db: 0, tx: false, subscriptions: 0 };
      updatePrompt();
      await refreshKeys();
      dataStatus.textContent = `Imported ${file.name} (${bytes.length.toLocaleString("en-US")} bytes): ${$("key-count").textContent}.`;
      note(`Imported ${file.name}: it replaced the database.`);
      scrollOutput();
    })
    .catch((err) => {
      dataStatus.textContent = `Import refused: ${err.message}`;
    })
    .finally(() => {
      fileInput.value = ""; // choosing the same file again still fires "change"
    });
});

// ---------------------------------------------------------------- benchmark

const benchButton = $("bench");
const benchStatus = $("bench-status");
const chart = $("chart");
drawChart(chart, [], BENCH_SECONDS);

benchButton.addEventListener("click", () => {
  if (state.session.tx || state.session.subscriptions) {
    benchStatus.textContent = "Finish the transaction or subscription in the console first.";
    return;
  }
  benchButton.disabled = true;
  benchStatus.textContent = `Running for ${BENCH_SECONDS} s on ${state.storage}…`;
  document.body.dataset.bench = "running";
  running = running
    .then(() =>
      exclusive(() =>
        runBenchmark(state.db, {
          durationMs: BENCH_SECONDS * 1000,
          onSample: (sample, samples) => {
            drawChart(chart, samples, BENCH_SECONDS);
            benchStatus.textContent = `${formatOps(sample.ops)} ops/s, p50 ${formatLatency(sample.p50)}…`;
          },
        }),
      ),
    )
    .then(async (result) => {
      const summary =
        `${formatOps(result.ops)} operations/s on ${state.storage}, latency p50 ${formatLatency(result.p50)}, ` +
        `p99 ${formatLatency(result.p99)} (${result.operations.toLocaleString("en-US")} commands)`;
      benchStatus.textContent = summary;
      chart.setAttribute("aria-label", `Benchmark chart: ${summary}`);
      chart.dataset.samples = String(result.samples.length);
      await refreshKeys();
    })
    .catch((err) => {
      benchStatus.textContent = `Benchmark failed: ${err.message}`;
    })
    .finally(() => {
      benchButton.disabled = false;
      document.body.dataset.bench = "done";
    });
});

// ---------------------------------------------------------------- start

note('Welcome to DiskDB. Type a command (try PING or SET greeting "hello world"), or run an example below. Type help for more.');
let preferred = "memory";
try {
  preferred = localStorage.getItem(STORAGE_PREF) === "opfs" ? "opfs" : "memory";
} catch {
  // no localStorage: memory
}
running = useStorage(preferred).catch(showError);
prompt.focus();
