'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const RWKV = require('..');
const { Tokenizer } = RWKV;
const { vocab, tiny } = require('./helpers');

// Reference ids come from @huggingface/tokenizers (NeoX) and an independent JS greedy matcher (World),
// produced by tools/gen-tokenizer-fixtures.js.
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'native', 'tests', 'data', 'tokenizer-golden.json'), 'utf8'));

test('World and NeoX tokenizers give the reference ids and decode back', () => {
  const world = Tokenizer.world(vocab('rwkv_vocab_v20230424.txt'));
  const neox = Tokenizer.neox(vocab('20B_tokenizer.json'));
  assert.strictEqual(world.vocabSize, 65536);
  assert.strictEqual(neox.vocabSize, 50277);
  assert.strictEqual(world.kind, 'world');
  const cases = golden.cases || golden.texts || golden;
  let checked = 0;
  for (const c of cases) {
    if (typeof c.text !== 'string') continue;
    if (c.world) assert.deepStrictEqual(Array.from(world.encode(c.text)), c.world, `world: ${JSON.stringify(c.text)}`);
    if (c.neox) assert.deepStrictEqual(Array.from(neox.encode(c.text)), c.neox, `neox: ${JSON.stringify(c.text)}`);
    assert.strictEqual(world.decode(world.encode(c.text)), c.text);
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} golden cases found`);
  assert.deepStrictEqual(Array.from(world.encode('\n\n')), [261]);
  assert.deepStrictEqual(Array.from(neox.encode('\n\n')), [535]);
});

test('decoding ids that end inside a UTF-8 character keeps the bytes', () => {
  const bytes = Tokenizer.bytes();
  const ids = Array.from(Buffer.from('中'));
  assert.deepStrictEqual(Array.from(bytes.decodeBytes(ids.slice(0, 2))), ids.slice(0, 2));
  assert.strictEqual(bytes.decode(ids), '中');
  assert.strictEqual(Tokenizer.fromFile(vocab('20B_tokenizer.json')).kind, 'neox');
});

test('tokenizer errors are clear', () => {
  assert.throws(() => Tokenizer.world('/no/vocab.txt'), (e) => e.code === 'E_IO' && /\/no\/vocab.txt/.test(e.message));
  assert.throws(() => Tokenizer.bytes().decode([300]), (e) => /300/.test(e.message));
});

test('a model without its vocabulary file says what is missing and where it looked', async () => {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'rwkv-vocab-'));
  const model = path.join(dir, 'syn.bin');
  // A small synthetic shape with the World vocabulary size (no vocab file beside it).
  await RWKV.makeSynthetic('0.1B', model, { type: 'Q4_0' });
  process.env.RWKV_HOME = dir;
  await assert.rejects(new RWKV(model).setup(), (e) => e.code === 'E_TOKENIZER' && /rwkv_vocab_v20230424.txt/.test(e.message) && e.message.includes(dir));
  const m = await new RWKV({ path: model, tokenizer: vocab('rwkv_vocab_v20230424.txt') }).setup();
  assert.strictEqual(m.info.tokenizer, 'world');
  assert.deepStrictEqual(m.tokenize('Hello'), Array.from(Tokenizer.world(vocab('rwkv_vocab_v20230424.txt')).encode('Hello')));
  await m.free();
  delete process.env.RWKV_HOME;
  fs.rmSync(dir, { recursive: true });
});

test('ESM entry exports the same class', async () => {
  const esm = await import('rwkv-node');
  assert.strictEqual(esm.default, RWKV);
  assert.strictEqual(esm.Tokenizer, Tokenizer);
});

test('the stream never shows a broken multi-byte character', async () => {
  const model = await new RWKV(tiny('tiny-rwkv-5v2-730K-FP32')).setup();
  // Only the three bytes of 中 (E4 B8 AD) may be sampled: in random order they form whole characters
  // and invalid runs (shown as U+FFFD); a chunk boundary must never cut a whole character in two.
  const allowed = new Set([0xe4, 0xb8, 0xad]);
  const banned = [];
  for (let i = 0; i < 256; i++) if (!allowed.has(i)) banned.push(i);
  const chunks = [];
  const r = await model.completion({ prompt: 'x', max_tokens: 400, seed: 11, bannedTokens: banned, streamCallback: (c) => chunks.push(c) });
  assert.strictEqual(chunks.join(''), r.completion);
  assert.ok(r.completion.includes('中'), 'expected at least one whole character');
  for (const c of chunks) assert.ok(!/^[\u0080-\u00ff]/.test(c));
  await model.free();
});
