#!/usr/bin/env node
// How far two CPU kernel sets (RWKV_KERNELS) drift apart on one model: each set runs in a child process,
// token by token through model.eval, and the final logits and state are compared. Float weights agree to
// summation order; quantized ones with 8-bit activations further apart (a rounding that falls the other way).
//   node tools/kernel-agreement.js <model.bin> [--sets reference,avx512-vbmi] [--tokens 12]
'use strict';
const path = require('path');
const { execFileSync } = require('child_process');

const args = process.argv.slice(2);
const arg = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };

if (process.env.RWKV_AGREEMENT_CHILD) {
  const RWKV = require('..');
  (async () => {
    const m = await new RWKV({ path: args[0], threads: 2, tokenizer: 'bytes' }).setup();
    let state = null, logits = null;
    for (let i = 0; i < Number(arg('tokens', '12')); i++) ({ state, logits } = await m.eval([(i * 7919 + 13) % m.info.nVocab], state));
    process.stdout.write(JSON.stringify({ kernels: RWKV.systemInfo().kernels, logits: Array.from(logits), state: Array.from(state) }));
    await m.free();
  })();
} else {
  const model = args[0];
  if (!model) {
    console.error('usage: node tools/kernel-agreement.js <model.bin> [--sets reference,avx512-vbmi] [--tokens 12]');
    process.exit(2);
  }
  const sets = arg('sets', 'reference,avx512-vbmi').split(',');
  const runs = sets.map((k) => JSON.parse(execFileSync(process.execPath, [__filename, ...args], {
    env: { ...process.env, RWKV_AGREEMENT_CHILD: '1', RWKV_KERNELS: k }, maxBuffer: 1 << 30,
  }).toString()));
  const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  console.log(`${path.basename(model)}, ${arg('tokens', '12')} tokens: ${runs[0].kernels} vs ${runs[1].kernels}: ` +
    `max|dlogit| ${maxDiff(runs[0].logits, runs[1].logits).toExponential(2)}, max|dstate| ${maxDiff(runs[0].state, runs[1].state).toExponential(2)}`);
}
