'use strict';
// Mesa's software Vulkan driver counts as a GPU here, so rwkv_gpu_offload_layers is exercised in CI too.
process.env.RWKV_VULKAN_ALLOW_CPU = '1';
// RWKV.cpp_bind: RWKV-cpp-node's low-level binding (rwkv.cpp's C API by name), checked against the
// library's own eval on the same model.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const RWKV = require('..');
const { tiny } = require('./helpers');

const MODEL = tiny('tiny-rwkv-7v0-834K-FP32');
const cb = RWKV.cpp_bind;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-cpp-bind-'));
let model;

test.before(async () => {
  model = await new RWKV({ path: MODEL, threads: 2, tokenizer: 'bytes' }).setup();
});
test.after(async () => {
  await model.free();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('the promise variant: a context, its sizes, and rwkv_eval giving what model.eval gives', async () => {
  const ctx = await cb.rwkv_init_from_file(MODEL, 2);
  assert.ok(ctx);
  // RWKV-cpp-node left rwkv_get_n_vocab synchronous; the other getters return promises.
  assert.strictEqual(cb.rwkv_get_n_vocab(ctx), 256);
  assert.ok(cb.rwkv_get_n_layer(ctx) instanceof Promise);
  assert.strictEqual(await cb.rwkv_get_n_layer(ctx), model.info.nLayer);
  assert.strictEqual(await cb.rwkv_get_n_embed(ctx), model.info.nEmbd);
  assert.strictEqual(await cb.rwkv_get_state_len(ctx), model.info.stateSize);
  assert.strictEqual(await cb.rwkv_get_logits_len(ctx), 256);

  const state = new Float32Array(model.info.stateSize), logits = new Float32Array(256);
  assert.strictEqual(await cb.rwkv_eval(ctx, 72, null, state, logits), true);
  assert.strictEqual(await cb.rwkv_eval(ctx, 105, state, state, logits), true); // in place, as rwkv.cpp allows
  const ref = await model.eval([72, 105]);
  assert.ok(maxDiff(logits, ref.logits) < 1e-5, `logits differ by ${maxDiff(logits, ref.logits)}`);
  assert.ok(maxDiff(state, ref.state) < 1e-5);

  // A sequence in one call: the state and logits of the same tokens one at a time.
  const seqState = new Float32Array(state.length), seqLogits = new Float32Array(256);
  assert.strictEqual(await cb.rwkv_eval_sequence(ctx, new Uint32Array([72, 105, 33, 0]), 3, null, seqState, seqLogits), true);
  const three = await model.eval([72, 105, 33]);
  assert.ok(maxDiff(seqLogits, three.logits) < 1e-5);
  assert.ok(maxDiff(seqState, three.state) < 1e-5);
  await cb.rwkv_free(ctx);
});

test('the synchronous functions and their .async(..., callback) form give the same bits', async () => {
  const s = cb.sync;
  const ctx = s.rwkv_init_from_file(MODEL, 2);
  const n = s.rwkv_get_state_len(ctx);
  const a = new Float32Array(n), la = new Float32Array(256);
  assert.strictEqual(s.rwkv_eval_sequence(ctx, [84, 104, 101], 3, null, a, la), true);
  const b = new Float32Array(n), lb = new Float32Array(256);
  const ok = await new Promise((resolve, reject) => s.rwkv_eval_sequence.async(ctx, [84, 104, 101], 3, null, b, lb, (err, r) => (err ? reject(err) : resolve(r))));
  assert.strictEqual(ok, true);
  assert.deepStrictEqual(b, a);
  assert.deepStrictEqual(lb, la);
  const c = new Float32Array(n), lc = new Float32Array(256);
  assert.strictEqual(await cb.rwkv_eval_sequence(ctx, [84, 104, 101], 3, null, c, lc), true);
  assert.deepStrictEqual(lc, la);
  // logits_out may be null: the state alone.
  const d = new Float32Array(n);
  assert.strictEqual(s.rwkv_eval_sequence(ctx, [84, 104, 101], 3, null, d, null), true);
  assert.deepStrictEqual(d, a);
  s.rwkv_free(ctx);
});

test('failures return null or false, say why on stderr, and leave the output state as it was', async () => {
  const s = cb.sync;
  const written = [];
  const write = process.stderr.write;
  process.stderr.write = (chunk, ...rest) => { written.push(String(chunk)); return true; };
  let ctx;
  try {
    assert.strictEqual(s.rwkv_init_from_file(path.join(tmp, 'missing.bin'), 2), null);
    const truncated = path.join(tmp, 'truncated.bin');
    fs.writeFileSync(truncated, fs.readFileSync(MODEL).subarray(0, 5000));
    assert.strictEqual(await cb.rwkv_init_from_file(truncated, 2), null);
    ctx = s.rwkv_init_from_file(MODEL, 2);
    const n = s.rwkv_get_state_len(ctx);
    const state = new Float32Array(n).fill(7), logits = new Float32Array(256);
    assert.strictEqual(s.rwkv_eval(ctx, 256, null, state, logits), false); // token out of range
    assert.strictEqual(await cb.rwkv_eval(ctx, 999, null, state, logits), false);
    assert.ok(state.every((v) => v === 7), 'the output state is unchanged');
    assert.strictEqual(s.rwkv_eval(ctx, 1, null, new Float32Array(5), logits), false); // wrong length
    assert.strictEqual(s.rwkv_eval_sequence(ctx, [1, 2], 3, null, state, logits), false); // longer than given
    assert.strictEqual(s.rwkv_quantize_model_file(MODEL, path.join(tmp, 'q.bin'), 'Q9_9'), false);
  } finally {
    process.stderr.write = write;
  }
  const text = written.join('');
  for (const fn of ['rwkv_init_from_file', 'rwkv_eval', 'rwkv_eval_sequence', 'rwkv_quantize_model_file']) assert.match(text, new RegExp(`${fn}: `));
  assert.match(text, /missing\.bin/);
  assert.match(text, /out of range/);
  s.rwkv_free(ctx);
  assert.throws(() => s.rwkv_eval(ctx, 1, null, new Float32Array(10), null), /freed/);
  assert.throws(() => s.rwkv_get_n_layer({}), /context from rwkv_init_from_file/);
});

test('a clone shares the weights and outlives its parent', () => {
  const s = cb.sync;
  const parent = s.rwkv_init_from_file(MODEL, 2);
  const clone = s.rwkv_clone_context(parent, 2);
  const n = s.rwkv_get_state_len(clone);
  const a = new Float32Array(n), la = new Float32Array(256), b = new Float32Array(n), lb = new Float32Array(256);
  assert.ok(s.rwkv_eval(parent, 10, null, a, la));
  s.rwkv_free(parent);
  assert.ok(s.rwkv_eval(clone, 10, null, b, lb));
  assert.deepStrictEqual(lb, la);
  s.rwkv_free(clone);
});

test('rwkv_quantize_model_file writes a file the engine loads; rwkv_gpu_offload_layers answers and keeps the context working', async () => {
  const out = path.join(tmp, 'q5_1.bin');
  assert.strictEqual(cb.sync.rwkv_quantize_model_file(MODEL, out, 'Q5_1'), true);
  const out2 = path.join(tmp, 'q8_0.bin');
  assert.strictEqual(await cb.rwkv_quantize_model_file(MODEL, out2, 'Q8_0'), true);
  const q = await new RWKV({ path: out, tokenizer: 'bytes' }).setup();
  assert.strictEqual(q.info.dataType, 'Q5_1');
  await q.free();

  const ctx = cb.sync.rwkv_init_from_file(MODEL, 2);
  const offloaded = cb.sync.rwkv_gpu_offload_layers(ctx, 100);
  // true exactly where a Vulkan device is usable (and every layer then runs there).
  assert.strictEqual(offloaded, RWKV.gpuDevices().some((d) => d.usable));
  assert.strictEqual(cb.sync.rwkv_gpu_offload_layers(ctx, 0), false);
  const state = new Float32Array(cb.sync.rwkv_get_state_len(ctx)), logits = new Float32Array(256);
  assert.ok(cb.sync.rwkv_eval_sequence(ctx, [72, 105], 2, null, state, logits));
  const ref = await model.eval([72, 105]);
  // On a GPU (where one is usable) the logits agree within the Vulkan path's tolerance; on the CPU exactly.
  assert.ok(maxDiff(logits, ref.logits) < (offloaded ? 1e-3 : 1e-5), `offloaded ${offloaded}: ${maxDiff(logits, ref.logits)}`);
  cb.sync.rwkv_free(ctx);
});
