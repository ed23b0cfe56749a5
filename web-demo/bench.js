// The benchmark: a fixed mix of commands, each one awaited before the next (what an
// application sees per call: the engine, plus the worker hop and the flush to OPFS when OPFS is
// the store), sampled in short windows and drawn live on a canvas.
import { encodeCommands } from "./resp.js";

const KEYS = 1000;
const VALUE = "v".repeat(64);

/** The workload, one request per step, cycled: 40% GET, 10% each of six writes. */
function workload() {
  const requests = [];
  for (let i = 0; i < 2000; i++) {
    const key = `bench:key:${(i * 7919) % KEYS}`;
    const argv = [
      ["GET", key],
      ["SET", key, VALUE],
      ["GET", key],
      ["INCR", "bench:counter"],
      ["GET", key],
      ["HSET", "bench:hash", `f${i % 100}`, String(i)],
      ["GET", key],
      ["ZINCRBY", "bench:zset", "1", `m${i % 100}`],
      ["LPUSH", "bench:list", VALUE],
      ["RPOP", "bench:list"],
    ][i % 10];
    requests.push(encodeCommands([argv]));
  }
  return requests;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/**
 * Runs the workload for `durationMs` on `db` (a diskdb Database); calls `onSample` with
 * {t, ops, mean, p50, p99} (seconds since start, operations per second, latencies in ms) about
 * every `windowMs`, yielding to the page between windows so the chart can draw.
 */
export async function runBenchmark(db, { durationMs = 3000, windowMs = 200, onSample }) {
  const requests = workload();
  const keys = Array.from({ length: KEYS }, (_, i) => `bench:key:${i}`);
  // Every GET finds its key.
  await db.executeResp(encodeCommands(keys.map((k) => ["SET", k, VALUE])));
  const samples = [];
  const all = [];
  const start = performance.now();
  let windowStart = start;
  let latencies = [];
  let i = 0;
  let measuredMs = 0; // the windows' time, without the pauses that let the page draw
  try {
    for (;;) {
      const t0 = performance.now();
      await db.executeResp(requests[i++ % requests.length]);
      const t1 = performance.now();
      latencies.push(t1 - t0);
      if (t1 - windowStart >= windowMs) {
        const sorted = latencies.sort((a, b) => a - b);
        const sample = {
          t: (t1 - start) / 1000,
          ops: latencies.length / ((t1 - windowStart) / 1000),
          mean: (t1 - windowStart) / latencies.length,
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
        };
        samples.push(sample);
        measuredMs += t1 - windowStart;
        all.push(...latencies);
        onSample?.(sample, samples);
        latencies = [];
        if (t1 - start >= durationMs) break;
        await new Promise((resolve) => setTimeout(resolve, 0));
        windowStart = performance.now();
      }
    }
  } finally {
    await db.executeResp(encodeCommands([["DEL", ...keys, "bench:counter", "bench:hash", "bench:zset", "bench:list"]]));
  }
  const sorted = all.sort((a, b) => a - b);
  return {
    operations: sorted.length,
    samples,
    ops: sorted.length / (measuredMs / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

/** "12.3 µs" / "1.25 ms": a latency in milliseconds. */
export function formatLatency(ms) {
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 1 : 0)} µs`;
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

/** Operations per second with thousands separators. */
export const formatOps = (ops) => Math.round(ops).toLocaleString("en-US");

const COLORS = { ops: "#2f6fdf", p50: "#d9472b", p99: "#e9a23b", grid: "#dde1e6", text: "#56606b" };

/** Draws the samples: operations per second (left axis), latency p50 and p99 (right axis). */
export function drawChart(canvas, samples, durationS) {
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || canvas.width;
  const cssHeight = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(cssWidth * ratio)) {
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, cssWidth, cssHeight);
  const pad = { left: 62, right: 62, top: 12, bottom: 26 };
  const w = cssWidth - pad.left - pad.right;
  const h = cssHeight - pad.top - pad.bottom;
  const maxT = Math.max(durationS, ...samples.map((s) => s.t));
  const maxOps = niceCeil(Math.max(1, ...samples.map((s) => s.ops)));
  const maxLat = niceCeil(Math.max(0.001, ...samples.map((s) => s.p99)));
  const x = (t) => pad.left + (t / maxT) * w;
  const yOps = (v) => pad.top + h - (v / maxOps) * h;
  const yLat = (v) => pad.top + h - (Math.min(v, maxLat) / maxLat) * h;

  g.font = "11px system-ui, sans-serif";
  g.lineWidth = 1;
  if (!samples.length) {
    g.fillStyle = COLORS.text;
    g.textAlign = "center";
    g.font = "13px system-ui, sans-serif";
    g.fillText("Run the benchmark to draw operations per second and latency here.", cssWidth / 2, cssHeight / 2);
    return;
  }
  for (let k = 0; k <= 4; k++) {
    const y = pad.top + (h * k) / 4;
    g.strokeStyle = COLORS.grid;
    g.beginPath();
    g.moveTo(pad.left, y);
    g.lineTo(pad.left + w, y);
    g.stroke();
    g.fillStyle = COLORS.ops;
    g.textAlign = "right";
    g.fillText(compact(maxOps * (1 - k / 4)), pad.left - 6, y + 4);
    g.fillStyle = COLORS.p50;
    g.textAlign = "left";
    g.fillText(k === 4 ? "0" : formatLatency(maxLat * (1 - k / 4)), pad.left + w + 6, y + 4);
  }
  g.fillStyle = COLORS.text;
  g.textAlign = "center";
  for (let t = 0; t <= maxT + 1e-9; t += maxT > 6 ? 2 : 1) g.fillText(`${t} s`, x(t), pad.top + h + 16);

  const line = (color, pick, y, dash = []) => {
    if (!samples.length) return;
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.setLineDash(dash);
    g.beginPath();
    samples.forEach((s, k) => (k ? g.lineTo(x(s.t), y(pick(s))) : g.moveTo(x(s.t), y(pick(s)))));
    g.stroke();
    g.setLineDash([]);
  };
  line(COLORS.ops, (s) => s.ops, yOps);
  line(COLORS.p99, (s) => s.p99, yLat, [4, 3]);
  line(COLORS.p50, (s) => s.p50, yLat);
}

function niceCeil(v) {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}

function compact(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(1));
}
