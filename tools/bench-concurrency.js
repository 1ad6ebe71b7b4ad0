#!/usr/bin/env node
// Batched decoding benchmark: aggregate decode tokens/s of N concurrent streams against one stream,
// on a synthetic RWKV-7 model (random weights of a real shape). Concurrent decode steps share one pass
// over the weights, so on a memory-bound CPU N streams should cost little more than one.
//   node tools/bench-concurrency.js [--size 0.1B] [--type FP16,Q8_0] [--streams 1,2,4,8,16] [--tokens 64] [--rounds 5] [--write]
// --write updates the "Concurrent streams" section of BENCHMARKS.md.
'use strict';
const fs = require('fs');
const path = require('path');
const { writeBenchSection } = require('./bench-section');
const RWKV = require('..');

const args = process.argv.slice(2);
const arg = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const size = arg('size', '0.1B');
const types = arg('type', 'FP16,Q8_0').split(',');
// One stream is always measured (first in each round): every ratio is taken against it.
const streamCounts = [...new Set([1, ...arg('streams', '1,2,4,8,16').split(',').map(Number)])];
const tokens = Number(arg('tokens', '64'));
const rounds = Number(arg('rounds', '5'));
const threads = Number(arg('threads', '2'));
const root = path.join(__dirname, '..');
const shared = process.env.RWKV_SHARED_DIR || path.join(root, '..', 'shared');
const vocab = process.env.RWKV_VOCAB || path.join(shared, 'vocab', 'rwkv_vocab_v20230424.txt');

// One weight type: every stream count, interleaved within each round. Returns the table (markdown).
async function measure(type) {
  const dir = path.join(root, 'bench-out', 'models');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `synthetic-${size}-${type}.bin`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`writing ${file}\n`);
    await RWKV.makeSynthetic(size, file, { type, seed: 42 });
  }
  // One model whose pool admits the largest count; every round runs each stream count once, in turn,
  // so a change in the machine's speed (it is shared) hits all counts alike, and the ratio to one
  // stream is taken within each round (median over rounds).
  const maxStreams = Math.max(...streamCounts);
  const model = await new RWKV({ path: file, threads, concurrent: maxStreams, stateCacheSize: 0, tokenizer: vocab }).setup();
  await model.completion({ prompt: 'warm up', max_tokens: 4, seed: 1 });
  const perCount = new Map(streamCounts.map((n) => [n, { runs: [], ratios: [], decode: [], decodeRatios: [], passes: 0, steps: 0, passMs: 0, decodeMs: 0 }]));
  for (let round = 0; round < rounds; round++) {
    let oneStream = 0, oneDecode = 0;
    for (const n of streamCounts) {
      const before = model.batchStats();
      const t0 = performance.now();
      const ends = [];
      const results = await Promise.all(Array.from({ length: n }, (_, i) => model
        .completion({ prompt: `Stream ${i}:`, max_tokens: tokens, seed: 100 + i + round * 1000, temperature: 1 })
        .then((r) => { ends[i] = performance.now(); return r; })));
      const seconds = (performance.now() - t0) / 1000;
      const after = model.batchStats();
      const generated = results.reduce((sum, r) => sum + r.usage.completionTokens, 0);
      const rate = generated / seconds;
      // Decode only: from the first stream's first generated token to the last stream's end (each
      // completion reports how long its generation phase took), so the prompts' passes are left out.
      const decodeStart = Math.min(...results.map((r, i) => ends[i] - r.perf.completionTime));
      const decodeMs = Math.max(...ends) - decodeStart;
      const decodeRate = generated / (decodeMs / 1000);
      const c = perCount.get(n);
      c.runs.push(rate);
      c.decode.push(decodeRate);
      c.passes += after.passes - before.passes;
      c.steps += after.steps - before.steps;
      c.passMs += after.passMs - before.passMs;
      c.decodeMs += decodeMs;
      if (n === 1) oneStream = rate, oneDecode = decodeRate;
      c.ratios.push(rate / oneStream);
      c.decodeRatios.push(decodeRate / oneDecode);
    }
  }
  await model.free();
  const median = (xs) => { const v = [...xs].sort((a, b) => a - b); return v.length ? v[(v.length - 1) >> 1] : NaN; };
  const rows = streamCounts.map((n) => {
    const c = perCount.get(n);
    const row = {
      streams: n, tokPerSec: median(c.runs), ratio: median(c.ratios), min: Math.min(...c.ratios), max: Math.max(...c.ratios),
      decode: median(c.decode), decodeRatio: median(c.decodeRatios), dmin: Math.min(...c.decodeRatios), dmax: Math.max(...c.decodeRatios),
      avgBatch: c.passes ? c.steps / c.passes : 0,
      // Share of the wall time (prompts included in the passes) spent inside the engine's passes.
      inPasses: c.decodeMs ? c.passMs / c.decodeMs : 0, passMs: c.passes ? c.passMs / c.passes : 0,
    };
    process.stderr.write(`${n} streams: decode ${row.decode.toFixed(1)} tok/s aggregate, ${row.decodeRatio.toFixed(2)}x one stream (${row.dmin.toFixed(2)}-${row.dmax.toFixed(2)}); ` +
      `with prompts ${row.tokPerSec.toFixed(1)} tok/s, ${row.ratio.toFixed(2)}x (${row.min.toFixed(2)}-${row.max.toFixed(2)}); medians of ${rounds} rounds; average batch ${row.avgBatch.toFixed(2)}, ${row.passMs.toFixed(2)} ms a pass, passes ${(100 * row.inPasses).toFixed(0)}% of the decode phase\n`);
    return row;
  });
  const table = [
    `Synthetic RWKV-7 ${size} ${type}, ${threads} threads, ${tokens} tokens per stream, sampled (temperature 1); ${rounds} rounds, each running every stream count in turn; medians over the rounds.`,
    '*Decode*: generated tokens ÷ the decode phase (from the earliest first generated token to the last stream\'s end; each completion reports its generation time), the prompts\' passes left out. *With prompts*: the same tokens ÷ the whole wall time, prompt processing included. *ms per pass*: time inside the engine\'s batched passes (`batchStats().passMs`) per pass; *passes ÷ decode phase*: their total over the decode phase\'s wall time (the rest is sampling and hand-offs between steps).',
    '',
    '| streams | decode tok/s (aggregate) | vs 1 stream (same round) | range over rounds | with prompts: tok/s | vs 1 stream | range | average batch per pass | ms per pass | passes ÷ decode phase |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.streams} | ${r.decode.toFixed(1)} | ${r.decodeRatio.toFixed(2)}× | ${r.dmin.toFixed(2)}–${r.dmax.toFixed(2)}× | ${r.tokPerSec.toFixed(1)} | ${r.ratio.toFixed(2)}× | ${r.min.toFixed(2)}–${r.max.toFixed(2)}× | ${r.avgBatch.toFixed(2)} | ${r.passMs.toFixed(2)} | ${(100 * r.inPasses).toFixed(0)}% |`),
  ].join('\n');
  console.log(table);
  return table;
}

async function main() {
  const tables = [];
  for (const type of types) tables.push(await measure(type));
  if (args.includes('--write')) {
    writeBenchSection(root, 'concurrency', 'Concurrent streams (batched decoding)',
      `node tools/bench-concurrency.js --size ${size} --type ${types.join(',')} --streams ${streamCounts.join(',')} --tokens ${tokens} --rounds ${rounds} --write`,
      tables.join('\n\n'));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
