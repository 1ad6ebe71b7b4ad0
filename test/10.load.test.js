'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const RWKV = require('..');
const { tiny } = require('./helpers');

test('the module export is the class, with named exports', () => {
  assert.strictEqual(typeof RWKV, 'function');
  assert.strictEqual(RWKV.RWKV, RWKV);
  assert.strictEqual(typeof RWKV.Tokenizer.world, 'function');
  assert.strictEqual(typeof RWKV.quantize, 'function');
});

test('no npm script runs as a hook of another by accident', () => {
  // npm runs "preX"/"postX" around "X": a script named "prebuild" would copy a stale addon into
  // prebuilds/ before every `npm run build` (or fail it on a fresh checkout).
  const scripts = require('../package.json').scripts;
  for (const name of Object.keys(scripts)) {
    const m = /^(pre|post)(.+)$/.exec(name);
    if (m && m[2] in scripts) assert.fail(`script "${name}" would run around "${m[2]}"`);
  }
});

test('constructor validates its options with messages that name them', () => {
  assert.throws(() => new RWKV(42), { name: 'TypeError', message: /Expected a model path or a config object for config but received number 42/ });
  assert.throws(() => new RWKV({ path: 'x.bin', threads: -1 }), { name: 'RangeError', message: /threads must be between 0 and 1024, got -1/ });
  assert.throws(() => new RWKV({ path: 'x.bin', thread: 2 }), { name: 'TypeError', message: /Unknown RWKV option "thread"/ });
  assert.throws(() => new RWKV({ path: 'x.bin', threads: 1.5 }), { name: 'TypeError', message: /Expected an integer for threads/ });
});

test('setup loads a model and reports its shape', async () => {
  const model = new RWKV({ path: tiny('tiny-rwkv-7v0-834K-FP32'), threads: 2 });
  await model.setup();
  const i = model.info;
  assert.strictEqual(i.version, '7');
  assert.strictEqual(i.nLayer, 12);
  assert.strictEqual(i.nEmbd, 64);
  assert.strictEqual(i.nVocab, 256);
  assert.strictEqual(i.headSize, 64);
  assert.strictEqual(i.stateSize, 50688);
  assert.strictEqual(i.dataType, 'FP32');
  assert.strictEqual(i.tokenizer, 'bytes');
  await model.free();
});

test('every version and format loads', async () => {
  const expected = { '4v0-660K': '4', '5v1-730K': '5.1', '5v2-730K': '5.2', '6v0-1m': '6', '7v0-834K': '7' };
  for (const [stem, version] of Object.entries(expected)) {
    for (const format of ['FP32', 'FP16', 'Q5_0', 'Q5_1']) {
      const model = await new RWKV(tiny(`tiny-rwkv-${stem}-${format}`)).setup();
      assert.strictEqual(model.info.version, version, `${stem} ${format}`);
      assert.strictEqual(model.info.dataType, format);
      await model.free();
    }
  }
});

test('a missing file is a clear error', async () => {
  await assert.rejects(new RWKV('/no/such/model.bin').setup(), { code: 'E_IO', message: /RWKV model path is not a file: \/no\/such\/model.bin/ });
});

test('truncated, corrupted and wrong-type files reject and the process lives on', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-load-'));
  const good = fs.readFileSync(tiny('tiny-rwkv-5v2-730K-FP32'));
  const truncated = path.join(dir, 'truncated.bin');
  fs.writeFileSync(truncated, good.subarray(0, good.length - 100));
  await assert.rejects(new RWKV(truncated).setup(), (e) => e.code === 'E_FORMAT' && /truncated file/.test(e.message));
  const flipped = Buffer.from(good);
  flipped.writeUInt32LE(0x7fffffff, 24 + 12);  // the first tensor's first dimension
  const flippedPath = path.join(dir, 'flipped.bin');
  fs.writeFileSync(flippedPath, flipped);
  await assert.rejects(new RWKV(flippedPath).setup(), (e) => e instanceof RWKV.RwkvError && /flipped.bin/.test(e.message));
  const wrongType = Buffer.from(good);
  wrongType.writeUInt32LE(5, 20);  // Q4_2, removed from ggml
  const wrongTypePath = path.join(dir, 'wrongtype.bin');
  fs.writeFileSync(wrongTypePath, wrongType);
  await assert.rejects(new RWKV(wrongTypePath).setup(), { code: 'E_DTYPE' });
  const text = path.join(dir, 'notamodel.bin');
  fs.writeFileSync(text, 'hello world, this is not a model file at all');
  await assert.rejects(new RWKV(text).setup(), { code: 'E_FORMAT', message: /bad magic/ });
  fs.rmSync(dir, { recursive: true });
});

test('calls before setup and after free fail clearly', async () => {
  const model = new RWKV(tiny('tiny-rwkv-4v0-660K-FP32'));
  await assert.rejects(model.eval([1]), { code: 'E_NOT_SETUP', message: /have you called setup\(\)/ });
  await model.setup();
  await model.free();
  await assert.rejects(model.eval([1]), { code: 'E_FREED' });
  await assert.rejects(model.completion('hi'), { code: 'E_FREED' });
});
