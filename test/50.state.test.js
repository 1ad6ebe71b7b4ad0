'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const RWKV = require('..');
const { tiny } = require('./helpers');

const MODEL = tiny('tiny-rwkv-5v1-730K-FP32');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-state-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('a preloaded prefix is reused: promptTokensCached = its length, same greedy text', async () => {
  const prefix = 'The old lighthouse keeper climbed the stairs every evening. ';
  const question = 'What did he see?';
  const plain = await new RWKV({ path: MODEL, stateCacheSize: 0 }).setup();
  const expected = await plain.completion({ prompt: prefix + question, max_tokens: 24, temperature: 0 });
  assert.strictEqual(expected.usage.promptTokensCached, 0);
  const model = await new RWKV({ path: MODEL }).setup();
  await model.preloadPrompt(prefix, { pin: true });
  const before = model.tokensEvaluated();
  const r = await model.completion({ prompt: prefix + question, max_tokens: 24, temperature: 0 });
  assert.strictEqual(r.usage.promptTokensCached, model.tokenize(prefix).length);
  assert.strictEqual(r.completion, expected.completion);
  // Only the question's tokens and the generated ones were evaluated.
  assert.strictEqual(model.tokensEvaluated() - before, model.tokenize(question).length + r.usage.completionTokens);
  const stats = model.cacheStats();
  assert.ok(stats.hits >= 1 && stats.pinned === 1 && stats.bytes > 0);
  await plain.free();
  await model.free();
});

test('a 5-turn chat processes each old token only once', async () => {
  const model = await new RWKV({ path: MODEL }).setup();
  let history = '';
  let evaluated = 0, unique = 0;
  for (let turn = 0; turn < 5; turn++) {
    const prompt = `${history}User: Tell me about turn ${turn}.\n\nAssistant:`;
    const before = model.tokensEvaluated();
    const r = await model.completion({ prompt, max_tokens: 30, temperature: 0, stop: ['\n\n'] });
    evaluated += model.tokensEvaluated() - before;
    history = `${prompt}${r.completion}\n\n`;
    if (turn > 0) assert.ok(r.usage.promptTokensCached > 0, `turn ${turn} found nothing in the cache`);
    // New tokens of this turn = prompt tokens not cached + generated tokens that were fed.
    unique = model.tokenize(prompt).length + model.tokenize(r.completion).length;
    assert.strictEqual(r.usage.promptTokensCached + r.usage.promptTokensEvaluated, r.usage.promptTokens);
  }
  // Every token of the conversation was evaluated once; the only extra tokens are those of stop-string
  // text that was generated and then cut (at most one "\n\n" per turn).
  const finalTokens = unique;
  assert.ok(evaluated >= finalTokens - 2 * 5 - 5, `evaluated ${evaluated} of ${finalTokens}`);
  assert.ok(evaluated <= finalTokens + 2 * 5, `evaluated ${evaluated} tokens for a ${finalTokens}-token conversation`);
  await model.free();
});

test('stateCacheSize 0 / false disables the cache without breaking anything', async () => {
  for (const size of [0, false]) {
    const model = await new RWKV({ path: MODEL, stateCacheSize: size }).setup();
    await model.preloadPrompt('Hello there');
    const r = await model.completion({ prompt: 'Hello there, friend', max_tokens: 4 });
    assert.strictEqual(r.usage.promptTokensCached, 0);
    assert.strictEqual(model.cacheStats().entries, 0);
    await model.free();
  }
});

test('a saved state loaded in a new process continues exactly as the original', async () => {
  const model = await new RWKV({ path: MODEL }).setup();
  const first = await model.completion({ prompt: 'The sea was calm', max_tokens: 0, returnState: true });
  const file = path.join(tmp, 'sea.state');
  await model.saveState(first.state, file, { tokenCount: first.usage.promptTokens });
  const here = await model.completion({ prompt: ' and the', initState: first.state, max_tokens: 20, temperature: 0 });
  const script = `
    const RWKV = require(${JSON.stringify(path.join(__dirname, '..'))});
    (async () => {
      const m = await new RWKV(${JSON.stringify(MODEL)}).setup();
      const { state, tokenCount } = await m.loadState(${JSON.stringify(file)});
      const r = await m.completion({ prompt: ' and the', initState: state, max_tokens: 20, temperature: 0 });
      process.stdout.write(JSON.stringify({ text: r.completion, tokenCount }));
    })();`;
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
  assert.strictEqual(out.text, here.completion);
  assert.strictEqual(out.tokenCount, first.usage.promptTokens);
  await model.free();
});

test('a state from another model is refused', async () => {
  const a = await new RWKV(MODEL).setup();
  const b = await new RWKV(tiny('tiny-rwkv-5v1-730K-Q5_1')).setup();  // same shape, other weights
  const c = await new RWKV(tiny('tiny-rwkv-7v0-834K-FP32')).setup();  // other shape
  const file = path.join(tmp, 'a.state');
  await a.saveState(a.createState(), file);
  await assert.rejects(b.loadState(file), { code: 'E_STATE_MISMATCH', message: /fingerprint/ });
  await assert.rejects(c.loadState(file), { code: 'E_STATE_MISMATCH' });
  fs.writeFileSync(path.join(tmp, 'junk.state'), 'not a state');
  await assert.rejects(a.loadState(path.join(tmp, 'junk.state')), { code: 'E_FORMAT' });
  await Promise.all([a.free(), b.free(), c.free()]);
});

test('16 greedy completions with concurrent: 4 give exactly the texts they give one at a time', async () => {
  const prompts = Array.from({ length: 16 }, (_, i) => `Story ${i}: the ${['cat', 'dog', 'ship', 'tree'][i % 4]} ${'was '.repeat(i % 3)}`);
  const solo = await new RWKV({ path: MODEL, stateCacheSize: 0 }).setup();
  const expected = [];
  for (const p of prompts) expected.push((await solo.completion({ prompt: p, max_tokens: 24, temperature: 0 })).completion);
  const model = await new RWKV({ path: MODEL, concurrent: 4, stateCacheSize: 0 }).setup();
  let maxActive = 0;
  const results = await Promise.all(prompts.map((p) => model.completion({ prompt: p, max_tokens: 24, temperature: 0, streamCallback: () => { maxActive = Math.max(maxActive, model.activeWorkCount()); } })));
  assert.deepStrictEqual(results.map((r) => r.completion), expected);
  assert.strictEqual(maxActive, 4);
  const { passes, steps, passMs } = model.batchStats();
  assert.ok(steps / passes > 1.5, `decode steps were not batched: ${steps} steps in ${passes} passes`);
  assert.ok(passMs > 0 && passMs < 60e3, `time inside the passes: ${passMs} ms`);
  assert.ok(results.some((r) => r.perf.queueIdleTime > 0));
  await solo.free();
  await model.free();
});

test('pendingWorkCount counts queued completions', async () => {
  const model = await new RWKV({ path: MODEL, concurrent: 1 }).setup();
  const runs = [0, 1, 2].map(() => model.completion({ prompt: 'Hi', max_tokens: 8 }));
  assert.strictEqual(model.activeWorkCount(), 1);
  assert.strictEqual(model.pendingWorkCount(), 2);
  await Promise.all(runs);
  assert.strictEqual(model.pendingWorkCount(), 0);
  await model.free();
});

test("concurrent: 'auto' sizes the pool from the state size and a memory budget", async () => {
  const model = await new RWKV({ path: MODEL, concurrent: 'auto', memoryBudget: 1e6 }).setup();
  const perStream = model.info.stateSize * 8 + model.info.nVocab * 8;
  assert.strictEqual(model.concurrency, Math.floor(1e6 / perStream));
  await model.free();
});

test('state mixing: weights (1, 0) equal the first state alone; two states follow the mixture', async () => {
  const model = await new RWKV({ path: MODEL, stateCacheSize: 0 }).setup();
  const a = (await model.completion({ prompt: 'The cat', max_tokens: 0, returnState: true })).state;
  const b = (await model.completion({ prompt: 'A ship', max_tokens: 0, returnState: true })).state;
  const alone = await model.completion({ prompt: ' sat', initState: a, max_tokens: 20, temperature: 0 });
  const mixed10 = await model.completion({ prompt: ' sat', mix: [{ state: a, weight: 1 }, { state: b, weight: 0 }], max_tokens: 20, temperature: 0 });
  assert.strictEqual(mixed10.completion, alone.completion);
  // Two states, one step: the sampled first token's frequency follows p = (pa + pb) / 2.
  const softmax = (l) => { const m = Math.max(...l); const e = Array.from(l, (x) => Math.exp(x - m)); const z = e.reduce((x, y) => x + y); return e.map((x) => x / z); };
  const pa = softmax((await model.eval([32, 115, 97, 116], a)).logits);
  const pb = softmax((await model.eval([32, 115, 97, 116], b)).logits);
  const p = pa.map((x, i) => (x + pb[i]) / 2);
  const counts = new Map();
  const N = 400;
  for (let seed = 0; seed < N; seed++) {
    const r = await model.completion({ prompt: ' sat', mix: [{ state: a, weight: 1 }, { state: b, weight: 1 }], max_tokens: 1, seed });
    counts.set(r.completion, (counts.get(r.completion) || 0) + 1);
  }
  // The most likely tokens under the mixture appear about as often as it says (within 5 standard deviations).
  const top = p.map((x, i) => [x, i]).sort((x, y) => y[0] - x[0]).slice(0, 3);
  for (const [prob, id] of top) {
    const seen = counts.get(String.fromCharCode(id)) || 0;
    const sd = Math.sqrt(N * prob * (1 - prob));
    assert.ok(Math.abs(seen - N * prob) <= 5 * sd + 1, `token ${id}: seen ${seen}, expected ${N * prob}`);
  }
  await model.free();
});
