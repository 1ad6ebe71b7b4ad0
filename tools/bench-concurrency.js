#!/usr/bin/env node
// Batched decoding benchmark: aggregate decode tokens/s of N concurrent streams against one stream,
// on a synthetic RWKV-7 model (random weights of a real shape). Concurrent decode steps share one pass
// over the weights, so on a memory-bound CPU N streams should cost little more than one.
//   node tools/bench-concurrency.js [--size 0.1B] [--type Q8_0] [--streams 1,2,4,8,16] [--tokens 64] [--write]
// --write updates the "Concurrent streams" section of BENCHMARKS.md.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execSync } = require('child_process');
const RWKV = require('..');

const args = process.argv.slice(2);
const arg = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const size = arg('size', '0.1B');
const type = arg('type', 'Q8_0');
const streamCounts = arg('streams', '1,2,4,8,16').split(',').map(Number);
const tokens = Number(arg('tokens', '64'));
const threads = Number(arg('threads', '2'));
const root = path.join(__dirname, '..');
const shared = process.env.RWKV_SHARED_DIR || path.join(root, '..', 'shared');
const vocab = process.env.RWKV_VOCAB || path.join(shared, 'vocab', 'rwkv_vocab_v20230424.txt');

async function main() {
  const dir = path.join(root, 'bench-out', 'models');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `synthetic-${size}-${type}.bin`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`writing ${file}\n`);
    await RWKV.makeSynthetic(size, file, { type, seed: 42 });
  }
  const rows = [];
  for (const n of streamCounts) {
    const model = await new RWKV({ path: file, threads, concurrent: n, stateCacheSize: 0, tokenizer: vocab }).setup();
    await model.completion({ prompt: 'warm up', max_tokens: 4, seed: 1 });
    const runs = [];
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: n }, (_, i) => model.completion({ prompt: `Stream ${i}:`, max_tokens: tokens, seed: 100 + i, temperature: 1 })));
      const seconds = (performance.now() - t0) / 1000;
      const generated = results.reduce((s, r) => s + r.usage.completionTokens, 0);
      runs.push(generated / seconds);
    }
    runs.sort((a, b) => a - b);
    const { passes, steps } = model.batchStats();
    rows.push({ streams: n, tokPerSec: runs[1], avgBatch: passes ? steps / passes : 0 });
    process.stderr.write(`${n} streams: ${runs[1].toFixed(1)} tok/s aggregate (median of 3), average batch ${(passes ? steps / passes : 0).toFixed(2)}\n`);
    await model.free();
  }
  const one = rows.find((r) => r.streams === 1);
  const table = [
    `Synthetic RWKV-7 ${size} ${type}, ${threads} threads, ${tokens} tokens per stream, sampled (temperature 1), median of 3 runs.`,
    '',
    '| streams | aggregate decode tok/s | vs 1 stream | average batch per pass |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.streams} | ${r.tokPerSec.toFixed(1)} | ${one ? (r.tokPerSec / one.tokPerSec).toFixed(2) + '×' : ''} | ${r.avgBatch.toFixed(2)} |`),
  ].join('\n');
  console.log(table);
  if (args.includes('--write')) {
    let commit = 'unknown';
    try { commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim(); } catch {}
    const cpu = (os.cpus()[0] || {}).model || 'unknown CPU';
    const section = [
      '<!-- bench:concurrency:start -->',
      '## Concurrent streams (batched decoding)',
      '',
      `${new Date().toISOString().slice(0, 10)}, commit ${commit}, ${cpu}, ${os.cpus().length} vCPUs, load average ${os.loadavg()[0].toFixed(2)} at the start.`,
      `Command: \`node tools/bench-concurrency.js --size ${size} --type ${type} --streams ${streamCounts.join(',')} --tokens ${tokens} --write\``,
      '',
      table,
      '<!-- bench:concurrency:end -->',
    ].join('\n');
    const benchFile = path.join(root, 'BENCHMARKS.md');
    let text = fs.existsSync(benchFile) ? fs.readFileSync(benchFile, 'utf8') : '# Benchmarks\n';
    const re = /<!-- bench:concurrency:start -->[\s\S]*<!-- bench:concurrency:end -->/;
    text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(benchFile, text);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
