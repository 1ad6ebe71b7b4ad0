'use strict';
// State-tuning files (.pth and safetensors) as initial states. The files are written here: a
// safetensors writer and a minimal torch.save-style ZIP + pickle writer (protocol 2, as torch emits).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const RWKV = require('..');
const { tiny } = require('./helpers');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-tune-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function f16(x) {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  const u = b.readUInt32LE();
  const sign = (u >>> 16) & 0x8000, exp = ((u >>> 23) & 0xff) - 112, mant = (u >>> 13) & 0x3ff;
  return exp <= 0 ? sign : sign | (exp << 10) | mant;  // truncating; test values are exact in fp16
}

// time_state values: layer l, head h, value i, key j -> a value exact in fp16 and bf16.
const value = (l, h, i, j) => ((l * 7 + h * 5 + i * 3 + j) % 64) / 64 - 0.5;

function tensors(info, dtype) {
  const { nLayer: L, nHead: H, headSize: S } = info;
  const out = {};
  for (let l = 0; l < L; l++) {
    const size = dtype === 'F32' ? 4 : 2;
    const data = Buffer.alloc(H * S * S * size);
    let k = 0;
    for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) for (let j = 0; j < S; j++, k++) {
      const v = value(l, h, i, j);
      if (dtype === 'F32') data.writeFloatLE(v, 4 * k);
      else if (dtype === 'F16') data.writeUInt16LE(f16(v), 2 * k);
      else { const b = Buffer.alloc(4); b.writeFloatLE(v); data.writeUInt16LE(b.readUInt32LE() >>> 16, 2 * k); }
    }
    out[`blocks.${l}.att.time_state`] = { dtype, shape: [H, S, S], data };
  }
  return out;
}

function writeSafetensors(file, ts) {
  const header = {};
  const parts = [];
  let off = 0;
  for (const [name, t] of Object.entries(ts)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    parts.push(t.data);
    off += t.data.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...parts]));
}

function writePth(file, ts) {
  const op = (...bytes) => Buffer.from(bytes);
  const unicode = (s) => { const b = Buffer.from(s); const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return Buffer.concat([op(0x58), n, b]); };
  const int = (v) => { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(v, 1); return b; };
  const global = (m, n) => Buffer.from(`c${m}\n${n}\n`);
  const parts = [op(0x80, 2), op(0x7d), op(0x28)];  // PROTO 2, EMPTY_DICT, MARK
  const storages = [];
  Object.entries(ts).forEach(([name, t], idx) => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const cls = { F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage' }[t.dtype];
    parts.push(unicode(name), global('torch._utils', '_rebuild_tensor_v2'), op(0x28),
      op(0x28), unicode('storage'), global('torch', cls), unicode(String(idx)), unicode('cpu'), int(numel), op(0x74), op(0x51),
      int(0), op(0x28), ...t.shape.map(int), op(0x74), op(0x28), ...stride.map(int), op(0x74), op(0x89),
      global('collections', 'OrderedDict'), op(0x29), op(0x52), op(0x74), op(0x52));
    storages.push([`archive/data/${idx}`, t.data]);
  });
  parts.push(op(0x75), op(0x2e));  // SETITEMS, STOP
  const files = [['archive/data.pkl', Buffer.concat(parts)], ...storages, ['archive/version', Buffer.from('3\n')]];
  const locals = [], central = [];
  let offset = 0;
  for (const [name, data] of files) {
    const n = Buffer.from(name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt32LE(data.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt32LE(data.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(n.length, 28); ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, data);
    central.push(ch, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(files.length, 8); eocd.writeUInt16LE(files.length, 10); eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  fs.writeFileSync(file, Buffer.concat([...locals, cd, eocd]));
}

for (const [stem, transposed] of [['tiny-rwkv-6v0-1m-FP32', true], ['tiny-rwkv-7v0-834K-FP32', false]]) {
  for (const [format, dtype] of [['st', 'F16'], ['pth', 'BF16'], ['pth', 'F32']]) {
    test(`${stem}: a ${dtype} .${format} state-tuning file becomes the initial state`, async () => {
      const model = await new RWKV(tiny(stem)).setup();
      const info = model.info;
      const file = path.join(tmp, `${stem}-${dtype}.${format}`);
      (format === 'st' ? writeSafetensors : writePth)(file, tensors(info, dtype));
      const state = await model.loadStateTuning(file);
      const { nEmbd: C, headSize: S, nHead: H } = info;
      // Token-shift parts stay zero; WKV matrices hold time_state, transposed into [h][key][value] for v6.
      assert.strictEqual(state[0], 0);
      for (const [l, h, i, j] of [[0, 0, 1, 2], [3, H - 1, S - 1, 0], [info.nLayer - 1, 0, 2, S - 2]]) {
        const base = l * (2 + S) * C + 2 * C + h * S * S;
        const at = transposed ? base + j * S + i : base + i * S + j;
        assert.strictEqual(state[at], value(l, h, i, j), `layer ${l} head ${h} (${i}, ${j})`);
      }
      const a = await model.completion({ prompt: 'Hello', initState: state, max_tokens: 8, temperature: 0 });
      const b = await model.completion({ prompt: 'Hello', max_tokens: 8, temperature: 0 });
      assert.strictEqual(a.usage.completionTokens, 8);
      assert.notDeepStrictEqual((await model.eval([72], state)).logits, (await model.eval([72])).logits);
      void b;
      await model.free();
    });
  }
}

test('state-tuning files for another shape or with missing layers are refused', async () => {
  const v6 = await new RWKV(tiny('tiny-rwkv-6v0-1m-FP32')).setup();
  const v7 = await new RWKV(tiny('tiny-rwkv-7v0-834K-FP32')).setup();
  const file = path.join(tmp, 'v7.st');
  writeSafetensors(file, tensors(v7.info, 'F32'));
  await assert.rejects(v6.loadStateTuning(file), { code: 'E_SHAPE', message: /expected \[8, 8, 8\]/ });
  const partial = tensors(v7.info, 'F32');
  delete partial['blocks.5.att.time_state'];
  writeSafetensors(file, partial);
  await assert.rejects(v7.loadStateTuning(file), { code: 'E_MISSING_TENSOR', message: /blocks.5.att.time_state/ });
  fs.writeFileSync(file, 'garbage');
  await assert.rejects(v7.loadStateTuning(file), { code: 'E_FORMAT' });
  const v4 = await new RWKV(tiny('tiny-rwkv-4v0-660K-FP32')).setup();
  await assert.rejects(v4.loadStateTuning(file), { code: 'E_ARGUMENT' });
  await Promise.all([v4.free(), v6.free(), v7.free()]);
});
