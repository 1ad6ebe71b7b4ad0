'use strict';
// The peer measurement of tools/bench.js (--peer): llama.cpp through node-llama-cpp on the GGUF file
// that holds the same synthetic weights, the same thread count and the same token ids.
//   node tools/bench-peer.js '<json config>'
// node-llama-cpp is not a dependency of rwkv-node: bench.js installs it into bench-out/peer/ on demand,
// and the config names that folder. Writes one JSON line to stdout; progress to stderr.
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const now = () => performance.now() / 1000;
const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
const log = (msg) => process.stderr.write(`  [peer] ${msg}\n`);

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : 0;
}

// Same ids as tools/bench-worker.js, as a plain array (node-llama-cpp's Token[]).
function tokens(n, nVocab, seed) {
  const t = [];
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    t.push((x >>> 8) % nVocab);
  }
  return t;
}

function peakRssMB() {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    return Number((s.match(/^VmHWM:\s+(\d+)/m) || [])[1] || 0) / 1024;
  } catch {
    return process.resourceUsage().maxRSS / 1024;
  }
}

async function main() {
  const cfg = JSON.parse(process.argv[2] || '{}');
  const entry = require.resolve('node-llama-cpp', { paths: [cfg.peerDir] });
  const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    maxThreads: cfg.threads,
    logLevel: LlamaLogLevel.error,
  });
  const t0 = now();
  const model = await llama.loadModel({ modelPath: cfg.gguf, gpuLayers: 0 });
  const loadS = now() - t0;
  const context = await model.createContext({
    contextSize: Math.max(1024, cfg.prefill + cfg.decodeMax + 64),
    batchSize: 512,
    threads: { ideal: cfg.threads, min: cfg.threads },
    sequences: 1,
  });
  const seq = context.getSequence();
  const V = model.tokens.vocabSize ?? 65536;
  const out = { loadS, llamaBuild: llama.buildType, cpu: llama.cpuMathCores };

  if (cfg.decodeBudgetS > 0) {
    // Prime with 16 tokens, then count generated tokens: each one is one decode step (one token in).
    const prompt = tokens(16, V, 1);
    const dec = tokens(1, V, 2);
    const decodeN = async (n) => {
      await seq.clearHistory();
      await seq.evaluateWithoutGeneratingNewTokens(prompt);
      let count = 0;
      const t1 = now();
      for await (const tok of seq.evaluate(dec, { temperature: 0 })) {
        void tok;
        if (++count >= n) break;
      }
      return now() - t1;
    };
    await decodeN(2); // the first evaluation sets up llama.cpp's graphs
    const perToken = (await decodeN(4)) / 4;
    const n = clamp(Math.floor(cfg.decodeBudgetS / cfg.runs / perToken), cfg.decodeMin, cfg.decodeMax);
    log(`decode: ~${(1 / perToken).toFixed(1)} tok/s, ${cfg.runs} run(s) of ${n} tokens`);
    const tps = [];
    for (let r = 0; r < cfg.runs; r++) tps.push(n / (await decodeN(n)));
    Object.assign(out, { decodeTps: median(tps), decodeRuns: tps, decodeTokens: n });
  }

  if (cfg.prefill > 0 && cfg.prefillBudgetS > 0) {
    const pre = tokens(cfg.prefill, V, 3);
    const prefillOnce = async (ids) => {
      await seq.clearHistory();
      const t1 = now();
      await seq.evaluateWithoutGeneratingNewTokens(ids);
      return now() - t1;
    };
    await prefillOnce(tokens(64, V, 5));
    const est = ((await prefillOnce(tokens(64, V, 4))) * cfg.prefill) / 64;
    const runs = clamp(Math.floor(cfg.prefillBudgetS / est), 1, cfg.runs);
    log(`prefill: ~${(cfg.prefill / est).toFixed(1)} tok/s, ${runs} run(s) of ${cfg.prefill} tokens`);
    const tps = [];
    for (let r = 0; r < runs; r++) tps.push(cfg.prefill / (await prefillOnce(pre)));
    Object.assign(out, { prefillTps: median(tps), prefillRuns: tps, prefillTokens: cfg.prefill });
  }
  out.peakRssMB = peakRssMB();
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench-peer: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
