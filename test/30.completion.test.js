'use strict';
const test = require('node:test');
const assert = require('node:assert');
const RWKV = require('..');
const { tiny } = require('./helpers');

let model;
test.before(async () => {
  model = await new RWKV({ path: tiny('tiny-rwkv-5v1-730K-FP32'), threads: 2 }).setup();
});
test.after(() => model.free());

test('completion returns RWKV-cpp-node result fields plus finishReason', async () => {
  const r = await model.completion({ prompt: 'The cat sat on the', max_tokens: 20, temperature: 0 });
  assert.strictEqual(r.prompt, 'The cat sat on the');
  assert.strictEqual(typeof r.completion, 'string');
  assert.strictEqual(r.finishReason, 'length');
  assert.deepStrictEqual(Object.keys(r.usage).sort(), ['completionTokens', 'promptTokens', 'promptTokensCached', 'promptTokensEvaluated', 'totalTokens']);
  assert.strictEqual(r.usage.promptTokens, 18);
  assert.strictEqual(r.usage.completionTokens, 20);
  assert.strictEqual(r.usage.totalTokens, 38);
  for (const k of ['queueIdleTime', 'promptTime', 'completionTime', 'totalTime', 'timePerPrompt', 'timePerCompletion', 'timePerFullPrompt', 'promptPerSecond', 'completionPerSecond', 'fullPromptPerSecond']) {
    assert.ok(Number.isFinite(r.perf[k]), `perf.${k} = ${r.perf[k]}`);
  }
});

test('temperature 0 is greedy: the text is what argmax over eval gives', async () => {
  const r = await model.completion({ prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
  let { state, logits } = await model.eval(Array.from(Buffer.from('Once upon a time')));
  const out = [];
  for (let i = 0; i < 12; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    out.push(best);
    ({ state, logits } = await model.eval([best], state));
  }
  assert.strictEqual(r.completion, Buffer.from(out).toString('utf8'));
});

test('the same seed gives the same text; top_p 0 equals greedy', async () => {
  const a = await model.completion({ prompt: 'In the morning', max_tokens: 30, seed: 7, temperature: 1.0, top_p: 0.9 });
  const b = await model.completion({ prompt: 'In the morning', max_tokens: 30, seed: 7, temperature: 1.0, top_p: 0.9 });
  assert.strictEqual(a.completion, b.completion);
  const g = await model.completion({ prompt: 'In the morning', max_tokens: 30, temperature: 0 });
  const p0 = await model.completion({ prompt: 'In the morning', max_tokens: 30, top_p: 0, seed: 3 });
  assert.strictEqual(p0.completion, g.completion);
});

test('stop strings end the text, never leak into it or the stream, even across tokens', async () => {
  const free = await model.completion({ prompt: 'The house was', max_tokens: 60, temperature: 0 });
  const text = free.completion;
  // A stop string of two characters somewhere in the middle of the greedy text: it spans tokens.
  const at = Math.floor(text.length / 2);
  const stop = text.slice(at, at + 2);
  const chunks = [];
  const r = await model.completion({ prompt: 'The house was', max_tokens: 60, temperature: 0, stop: [stop, 'zzzz'], streamCallback: (c, full) => chunks.push([c, full]) });
  assert.strictEqual(r.finishReason, 'stop');
  assert.strictEqual(r.completion, text.slice(0, text.indexOf(stop)));
  assert.strictEqual(chunks.map((c) => c[0]).join(''), r.completion);
  for (const [, full] of chunks) assert.ok(!full.includes(stop));
  if (chunks.length) assert.strictEqual(chunks[chunks.length - 1][1], r.completion);
});

test('stopTokens stop generation; max_tokens 0 only processes the prompt', async () => {
  const free = await model.completion({ prompt: 'The house was', max_tokens: 40, temperature: 0 });
  const firstSpace = free.completion.indexOf(' ', 1);
  const r = await model.completion({ prompt: 'The house was', max_tokens: 40, temperature: 0, stopTokens: [32] });
  assert.strictEqual(r.finishReason, 'stop');
  assert.strictEqual(r.completion, free.completion.slice(0, free.completion.indexOf(' ')));
  assert.ok(firstSpace >= 0);
  const p = await model.completion({ prompt: 'Just the prompt', max_tokens: 0 });
  assert.strictEqual(p.completion, '');
  assert.strictEqual(p.usage.completionTokens, 0);
});

test('an AbortSignal stops generation with the partial text, or rejects when asked', async () => {
  const controller = new AbortController();
  let seen = 0;
  const r = await model.completion({ prompt: 'Story:', max_tokens: 5000, temperature: 1, seed: 1, signal: controller.signal, streamCallback: () => { if (++seen === 5) controller.abort(); } });
  assert.strictEqual(r.finishReason, 'abort');
  assert.ok(r.usage.completionTokens >= 5 && r.usage.completionTokens < 5000);
  const c2 = new AbortController();
  c2.abort(new Error('user cancelled'));
  await assert.rejects(model.completion({ prompt: 'x', signal: c2.signal, stopOnAbortSignal: false }), /user cancelled/);
});

test('aborting a 10,000-token prompt stops between chunks, and the model is usable right after', async () => {
  const controller = new AbortController();
  const long = 'word '.repeat(2000);  // 10,000 byte tokens
  setTimeout(() => controller.abort(), 5);
  const r = await model.completion({ prompt: long, max_tokens: 10, signal: controller.signal, batchSize: 16 });
  assert.strictEqual(r.finishReason, 'abort');
  assert.strictEqual(r.usage.completionTokens, 0);
  assert.strictEqual(r.usage.promptTokens, 10000);
  // Work stopped early: far fewer prompt tokens were evaluated than the prompt has.
  assert.ok(r.usage.promptTokensEvaluated < 10000, `evaluated ${r.usage.promptTokensEvaluated}`);
  const after = await model.completion({ prompt: 'The end', max_tokens: 5, temperature: 0 });
  assert.strictEqual(after.finishReason, 'length');
});

test('stream() yields the same chunks; breaking out aborts', async () => {
  const whole = await model.completion({ prompt: 'A river', max_tokens: 30, temperature: 0 });
  let text = '';
  for await (const chunk of model.stream({ prompt: 'A river', max_tokens: 30, temperature: 0 })) text += chunk;
  assert.strictEqual(text, whole.completion);
  const s = model.stream({ prompt: 'A river', max_tokens: 5000, temperature: 1, seed: 2 });
  let n = 0;
  for await (const _ of s) if (++n === 3) break;
  const r = await s.result;
  assert.strictEqual(r.finishReason, 'abort');
});

test('options are validated with messages naming the option and range', async () => {
  await assert.rejects(model.completion({}), { message: 'Prompt is required for completion operation' });
  await assert.rejects(model.completion({ prompt: 'x', temperature: -1 }), { name: 'RangeError', message: /temperature must be between 0 and 100, got -1/ });
  await assert.rejects(model.completion({ prompt: 'x', top_p: 2 }), { name: 'RangeError', message: /topP must be between 0 and 1, got 2/ });
  await assert.rejects(model.completion({ prompt: 'x', max_tokens: 1.5 }), { name: 'TypeError', message: /Expected an integer for maxTokens/ });
  await assert.rejects(model.completion({ prompt: 'x', stop: 5 }), { name: 'TypeError', message: /stop/ });
  await assert.rejects(model.completion({ prompt: 'x', temprature: 1 }), { name: 'TypeError', message: /Unknown completion option "temprature"/ });
  await assert.rejects(model.completion({ prompt: 'x', logit_bias: { 999: 1 } }), { name: 'RangeError' });
});

test('camelCase aliases behave like the snake_case names', async () => {
  const a = await model.completion({ prompt: 'Hello', max_tokens: 10, top_p: 0.5, seed: 5 });
  const b = await model.completion({ prompt: 'Hello', maxTokens: 10, topP: 0.5, seed: 5 });
  assert.strictEqual(a.completion, b.completion);
});

test('an abort inside one long prompt pass stops it between layers and returns the state before it', async () => {
  const start = (await model.completion({ prompt: 'Once', max_tokens: 0, returnState: true })).state;
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 5);
  // One pass of 4000 tokens (~0.3 s here): only the check between layers can stop it early.
  const r = await model.completion({ prompt: 'word '.repeat(800), max_tokens: 10, signal: controller.signal, batchSize: 4096, initState: start, returnState: true });
  assert.strictEqual(r.finishReason, 'abort');
  assert.strictEqual(r.usage.promptTokensEvaluated, 0);
  assert.deepStrictEqual(Array.from(r.state), Array.from(start));
});

test('batchSize defaults to the engine\'s pass length for the model, and a given one is kept', async () => {
  const m = new RWKV({ path: tiny('tiny-rwkv-5v1-730K-FP32'), threads: 1 });
  assert.strictEqual(m.batchSize, null);
  await m.setup();
  assert.strictEqual(m.info.promptPassTokens, 512);  // narrow models take 512-token passes
  assert.strictEqual(m.batchSize, 512);
  m.free();
  const given = await new RWKV({ path: tiny('tiny-rwkv-5v1-730K-FP32'), threads: 1, batchSize: 64 }).setup();
  assert.strictEqual(given.batchSize, 64);
  assert.strictEqual(given.info.promptPassTokens, 512);
  given.free();
});

test('returnState and initState continue a completion exactly', async () => {
  const whole = await model.completion({ prompt: 'The sea was calm and the', max_tokens: 10, temperature: 0 });
  const first = await model.completion({ prompt: 'The sea was calm', max_tokens: 0, returnState: true });
  const rest = await model.completion({ prompt: ' and the', initState: first.state, max_tokens: 10, temperature: 0 });
  assert.strictEqual(rest.completion, whole.completion);
});

test('a throwing stream callback rejects the completion and stops it', async () => {
  await assert.rejects(model.completion({ prompt: 'Hi', max_tokens: 500, streamCallback: () => { throw new Error('boom'); } }), /boom/);
});
