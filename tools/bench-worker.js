'use strict';
// One measurement of tools/bench.js, in its own process so that its peak RSS is its own:
//   node tools/bench-worker.js '<json config>'
// Writes one JSON line with the result to stdout; progress and errors go to stderr.
//
// Modes:
//   model     load time (setup() wall time, median of loadRuns), prefill tok/s (one eval() call of
//             `prefill` tokens from the initial state; the engine splits it into sequence passes of
//             info.promptPassTokens), peak RSS (VmHWM) at the end.
//   decode    forked with an IPC channel (tools/bench.js, decodeSlices): loads the model, primes a state,
//             sends {ready, info}; then each {decode: n} message decodes n tokens from the primed state
//             and is answered {n, s}. Idle between messages, so the parent can sample the bandwidth.
//   overhead  µs per eval() call of one token on a tiny model (per-call cost of the addon and JS).
//   baseline  VmHWM of a process that has loaded the addon and the tokenizer, no model.
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');

function now() {
  return performance.now() / 1000;
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : 0;
}

// The token sequence of native/tools/rwkv_eval_timing.cpp: a 32-bit LCG, ids below nVocab.
function tokens(n, nVocab, seed) {
  const t = new Uint32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    t[i] = (x >>> 8) % nVocab;
  }
  return t;
}

// Peak and current resident set (MiB) from /proc/self/status; maxRSS where there is no /proc.
function memory() {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
    return { hwmMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 };
  } catch {
    const r = process.resourceUsage().maxRSS / 1024;
    return { hwmMB: r, rssMB: r };
  }
}

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
const log = (msg) => process.stderr.write(`  [worker] ${msg}\n`);

async function modelMode(cfg, RWKV) {
  const tokenizer = cfg.vocab ? RWKV.Tokenizer.world(cfg.vocab) : undefined;
  const before = memory();
  const loads = [];
  let model = null;
  for (let i = 0; i < cfg.loadRuns; i++) {
    const t0 = now();
    model = await new RWKV({ path: cfg.path, threads: cfg.threads, tokenizer }).setup();
    loads.push(now() - t0);
    if (i < cfg.loadRuns - 1) await model.free();
  }
  const info = model.info;
  const V = info.nVocab;
  const afterLoad = memory();
  const out = { info: { ...info }, loadS: median(loads), loads, baselineMB: before.hwmMB, afterLoad };

  if (cfg.prefill > 0 && cfg.prefillBudgetS > 0) {
    // One 64-token pass estimates the time of the whole prompt. Every call writes into the same two
    // arrays: a state returned per call (13 MB for 1.5B) would be garbage counted in the peak RSS.
    const state = new Float32Array(info.stateSize), logits = new Float32Array(V);
    const t0 = now();
    await model.eval(tokens(64, V, 4), null, { state, logits });
    const est = ((now() - t0) * cfg.prefill) / 64;
    const runs = clamp(Math.floor(cfg.prefillBudgetS / est), 1, cfg.runs);
    log(`prefill: ~${(cfg.prefill / est).toFixed(1)} tok/s estimated from one cold 64-token call, ${runs} run(s) of ${cfg.prefill} tokens`);
    const pre = tokens(cfg.prefill, V, 3);
    const tps = [];
    for (let r = 0; r < runs; r++) {
      const t1 = now();
      await model.eval(pre, null, { state, logits });
      tps.push(cfg.prefill / (now() - t1));
    }
    Object.assign(out, { prefillTps: median(tps), prefillRuns: tps, prefillTokens: cfg.prefill });
  }

  const after = memory();
  out.peakRssMB = after.hwmMB;
  out.rssMB = after.rssMB;
  await model.free();
  return out;
}

// One in-place eval() call per token (eval's `out`: one state and one logits array for every slice, no
// garbage per token), from a state primed by a 16-token prompt (which also touches every weight page).
// With `untilS` a slice stops once that many seconds have passed (after `min` tokens): the calibrating one.
async function decodeMode(cfg, RWKV) {
  const tokenizer = cfg.vocab ? RWKV.Tokenizer.world(cfg.vocab) : undefined;
  const model = await new RWKV({ path: cfg.path, threads: cfg.threads, tokenizer }).setup();
  const V = model.info.nVocab;
  const primed = (await model.eval(tokens(16, V, 1))).state;
  const dec = tokens(cfg.decodeMax, V, 2);
  await model.eval(dec.subarray(0, 1), primed); // warm-up
  const state = new Float32Array(primed.length), logits = new Float32Array(V);
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m) => {
    if (m.quit) {
      await model.free();
      process.disconnect();
      return;
    }
    state.set(primed);
    const t0 = now();
    let i = 0;
    while (i < Math.min(m.decode, dec.length)) {
      await model.eval(dec.subarray(i, i + 1), state, { state, logits });
      if (++i >= m.min && m.untilS && now() - t0 >= m.untilS) break;
    }
    process.send({ n: i, s: now() - t0 });
  });
  process.send({ ready: true, info: { ...model.info } });
}

async function overheadMode(cfg, RWKV) {
  const model = await new RWKV({ path: cfg.path, threads: cfg.threads }).setup();
  const V = model.info.nVocab;
  const ids = tokens(cfg.calls, V, 5);
  let s = (await model.eval(tokens(8, V, 1))).state;
  for (let i = 0; i < 200; i++) s = (await model.eval(ids.subarray(i % cfg.calls, (i % cfg.calls) + 1), s)).state;
  const us = [];
  for (let r = 0; r < cfg.runs; r++) {
    const t0 = now();
    for (let i = 0; i < cfg.calls; i++) s = (await model.eval(ids.subarray(i, i + 1), s)).state;
    us.push(((now() - t0) / cfg.calls) * 1e6);
  }
  await model.free();
  return { callUs: median(us), callRuns: us, calls: cfg.calls };
}

async function main() {
  const cfg = JSON.parse(process.argv[2] || '{}');
  const { RWKV } = require(path.join(ROOT, 'lib', 'rwkv.js'));
  if (cfg.mode === 'decode') return decodeMode(cfg, RWKV); // answers through IPC, not stdout
  let out;
  if (cfg.mode === 'model') out = await modelMode(cfg, RWKV);
  else if (cfg.mode === 'overhead') out = await overheadMode(cfg, RWKV);
  else if (cfg.mode === 'baseline') {
    if (cfg.vocab) RWKV.Tokenizer.world(cfg.vocab);
    out = { baselineMB: memory().hwmMB };
  } else throw new Error(`unknown mode ${cfg.mode}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench-worker: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
