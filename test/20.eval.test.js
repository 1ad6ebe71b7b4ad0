'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const RWKV = require('..');
const { tiny, shared } = require('./helpers');

function expected(stem) {
  const b = fs.readFileSync(path.join(shared, 'models', 'tiny', `expected-logits-${stem}.bin`));
  return new Float32Array(b.buffer, b.byteOffset, 256);
}

const maxAbs = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

for (const stem of ['4v0-660K', '5v1-730K', '5v2-730K', '6v0-1m', '7v0-834K']) {
  test(`FP32 ${stem}: logits match the reference through eval, token by token and as a sequence`, async () => {
    const model = await new RWKV({ path: tiny(`tiny-rwkv-${stem}-FP32`), threads: 2 }).setup();
    const seq = await model.eval([34, 105, 110]);
    assert.ok(maxAbs(seq.logits, expected(stem)) < 1e-4);
    let state = null, logits;
    for (const t of [34, 105, 110]) ({ state, logits } = await model.eval([t], state));
    assert.ok(maxAbs(logits, expected(stem)) < 1e-4);
    await model.free();
  });
}

test('eval does not change the state passed in, and accepts Uint32Array', async () => {
  const model = await new RWKV(tiny('tiny-rwkv-6v0-1m-FP32')).setup();
  const { state } = await model.eval(new Uint32Array([72, 105]));
  const copy = Float32Array.from(state);
  const next = await model.eval([33], state);
  assert.deepStrictEqual(state, copy);
  assert.notDeepStrictEqual(next.state, state);
  await model.free();
});

test('eval writes into the caller\'s arrays with out, in place or not, with the same results', async () => {
  const model = await new RWKV(tiny('tiny-rwkv-7v0-834K-FP32')).setup();
  const ref = await model.eval([34, 105]);
  const next = await model.eval([110], ref.state);
  // Separate output arrays: the input state stays as it was.
  const before = Float32Array.from(ref.state);
  const out = { state: new Float32Array(ref.state.length), logits: new Float32Array(256) };
  const r = await model.eval([110], ref.state, out);
  assert.strictEqual(r.state, out.state);
  assert.strictEqual(r.logits, out.logits);
  assert.deepStrictEqual(out.state, next.state);
  assert.deepStrictEqual(out.logits, next.logits);
  assert.deepStrictEqual(ref.state, before);
  // In place: a decode loop that allocates nothing per token gives the same logits as the plain one.
  const state = model.createState(), logits = new Float32Array(256);
  let plain = { state: null };
  for (const t of [34, 105, 110]) {
    await model.eval([t], state, { state, logits });
    plain = await model.eval([t], plain.state);
  }
  assert.deepStrictEqual(state, plain.state);
  assert.deepStrictEqual(logits, plain.logits);
  // Only one of the two; from the initial state.
  const onlyLogits = new Float32Array(256);
  const r2 = await model.eval([34], null, { logits: onlyLogits });
  assert.strictEqual(r2.logits, onlyLogits);
  assert.deepStrictEqual(onlyLogits, (await model.eval([34])).logits);
  // Wrong shapes and types are refused before anything is written.
  const keep = Float32Array.from(state);
  await assert.rejects(model.eval([1], state, { state: new Float32Array(3) }), { name: 'RangeError', message: /out.state has 3 floats/ });
  await assert.rejects(model.eval([1], state, { logits: new Float32Array(3) }), { name: 'RangeError', message: /out.logits has 3 floats, but this model's vocabulary has 256/ });
  await assert.rejects(model.eval([1], state, { logits: [1, 2] }), { name: 'TypeError', message: /out.logits/ });
  await assert.rejects(model.eval([1], state, 'x'), { name: 'TypeError', message: /out/ });
  const shared = new Float32Array(state.length + 256);
  await assert.rejects(model.eval([1], state, { state: shared.subarray(0, state.length), logits: shared.subarray(100, 356) }),
    { name: 'RangeError', message: /overlap/ });
  await model.eval([1], null, { state: shared.subarray(0, state.length), logits: shared.subarray(state.length) });  // adjacent is fine
  await assert.rejects(model.eval([1, 999], state, { state }), { name: 'RangeError' });
  assert.deepStrictEqual(state, keep);
  await model.free();
});

test('eval rejects bad tokens and states with actionable messages', async () => {
  const model = await new RWKV(tiny('tiny-rwkv-5v1-730K-FP32')).setup();
  await assert.rejects(model.eval([1, 256]), { name: 'RangeError', message: /tokens\[1\] is token id 256, but this model's vocabulary has 256 tokens/ });
  await assert.rejects(model.eval([1, -3]), { name: 'TypeError', message: /non-negative integer/ });
  await assert.rejects(model.eval([1], new Float32Array(10)), { name: 'RangeError', message: /state has 10 floats, but this model's state has 7680/ });
  await assert.rejects(model.eval('abc'), { name: 'TypeError' });
  await model.free();
});

test('two states evaluated concurrently give the same results as one after the other', async () => {
  const model = await new RWKV({ path: tiny('tiny-rwkv-7v0-834K-FP32'), threads: 2 }).setup();
  const a = Array.from(Buffer.from('The lighthouse keeper climbed'));
  const b = Array.from(Buffer.from('Fog rolled in over the water'));
  const seqA = await model.eval(a), seqB = await model.eval(b);
  const [parA, parB] = await Promise.all([model.eval(a), model.eval(b)]);
  assert.deepStrictEqual(parA.state, seqA.state);
  assert.deepStrictEqual(parB.state, seqB.state);
  assert.deepStrictEqual(parA.logits, seqA.logits);
  await model.free();
});

test('eval does not block the event loop', async () => {
  const model = await new RWKV(tiny('tiny-rwkv-6v0-1m-FP32')).setup();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const long = Array.from({ length: 3000 }, (_, i) => 32 + (i % 90));
  await model.eval(long);
  clearInterval(timer);
  assert.ok(ticks > 0, 'the timer never ran while eval was working');
  await model.free();
});

test('createState gives the initial state (v4 starts its exponents at -1e30)', async () => {
  const model = await new RWKV(tiny('tiny-rwkv-4v0-660K-FP32')).setup();
  const s = model.createState();
  assert.strictEqual(s.length, 2560);
  assert.strictEqual(s[0], 0);
  assert.strictEqual(s[4 * 128], Math.fround(-1e30));
  const fromNull = await model.eval([65]);
  const fromInit = await model.eval([65], s);
  assert.deepStrictEqual(fromNull.logits, fromInit.logits);
  await model.free();
});

test('quantize writes a file that loads and stays close to FP32', async () => {
  const os = require('os');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-q-')), 'q8.bin');
  await RWKV.quantize(tiny('tiny-rwkv-7v0-834K-FP32'), out, 'Q8_0');
  const q = await new RWKV(out).setup();
  assert.strictEqual(q.info.dataType, 'Q8_0');
  const ref = await new RWKV(tiny('tiny-rwkv-7v0-834K-FP32')).setup();
  const a = await q.eval([34, 105, 110]), b = await ref.eval([34, 105, 110]);
  assert.ok(maxAbs(a.logits, b.logits) < 0.05);
  await assert.rejects(RWKV.quantize(out, out + '2', 'Q4_0'), { code: 'E_DTYPE' });
  await assert.rejects(RWKV.quantize(out, out + '2', 'Q9'), { name: 'RangeError', message: /Q4_0, Q4_1, Q5_0, Q5_1, Q8_0/ });
  await q.free();
  await ref.free();
});

// The addon hands eval() from the main thread to the model's home thread and is told of its end through a
// thread-safe function: an error thrown there must reject that call's promise (with the engine's code) and
// leave the calls queued behind it, and the model, working. The JS layer checks token ids first, so the
// engine's own check is reached through the native object.
test('an engine error on the home thread rejects its eval; calls queued behind it still run', async () => {
  const model = await new RWKV({ path: tiny('tiny-rwkv-7v0-834K-FP32'), threads: 2 }).setup();
  const ok = model.eval([1, 2, 3]);
  const bad = model._native.eval(new Uint32Array([1, 300]), null, true);
  const after = [model.eval([1, 2, 3]), model.eval([4])];
  await assert.rejects(bad, (e) => e.code === 'E_ARGUMENT' && /token id 300 at position 1/.test(e.message));
  const [a, b] = [await ok, await after[0]];
  assert.deepStrictEqual(Array.from(b.logits), Array.from(a.logits));
  assert.strictEqual((await after[1]).logits.length, 256);
  await model.free();
});

// eval() runs on the model's home thread, outside libuv's pool, so Node does not wait for it when a worker
// thread is terminated: the addon's env cleanup must wait for a call in progress (it writes into arrays of
// that env) and skip the queued ones. Before it did, this crashed the process (SIGSEGV; an abort with the
// libuv pool). Run in a child process so that a crash fails the test instead of the runner.
test('terminating a worker thread with evals in flight leaves the process running', () => {
  const { spawnSync } = require('child_process');
  const script = `
    const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
    if (isMainThread) {
      (async () => {
        for (let i = 0; i < 8; i++) {
          const w = new Worker(__filename, { workerData: process.argv[2] });
          await new Promise((res) => w.once('message', res));
          await new Promise((r) => setTimeout(r, i % 3));
          await w.terminate();
        }
        console.log('survived');
      })();
    } else {
      const RWKV = require(${JSON.stringify(path.join(__dirname, '..'))});
      new RWKV({ path: workerData, threads: 2 }).setup().then((m) => {
        for (let i = 0; i < 30; i++) m.eval(Array.from({ length: 64 }, (_, j) => (j * 7) % 256), null).catch(() => {});
        parentPort.postMessage('started');
      });
    }`;
  const file = path.join(require('os').tmpdir(), `rwkv-test-worker-${process.pid}.js`);
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file, tiny('tiny-rwkv-7v0-834K-FP32')], { encoding: 'utf8', timeout: 120000 });
  fs.unlinkSync(file);
  assert.strictEqual(r.signal, null, r.stderr);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /survived/);
});
