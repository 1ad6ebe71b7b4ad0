'use strict';
// ChatSession: node-llama-cpp's LlamaChatSession shape over RWKV's kept state. The tiny model's byte
// vocabulary makes token counts byte counts, so what each turn evaluates can be checked exactly.
const test = require('node:test');
const assert = require('node:assert');
const RWKV = require('..');
const { ChatSession } = RWKV;
const { tiny } = require('./helpers');

let model;
test.before(async () => {
  model = await new RWKV({ path: tiny('tiny-rwkv-5v1-730K-FP32'), threads: 2, stateCacheSize: 0 }).setup();
});
test.after(() => model.free());

const STOP = ['\n\nUser:', '\n\n'];

test('prompt() returns the reply the chat template gives; the next turn evaluates only its own text', async () => {
  const session = new ChatSession({ model, systemPrompt: 'Be kind.', temperature: 0, maxTokens: 20 });
  const first = await session.prompt('Hello there');
  const direct = await model.completion({ prompt: 'System: Be kind.\n\nUser: Hello there\n\nAssistant:', temperature: 0, max_tokens: 20, stop: STOP });
  assert.strictEqual(first, direct.completion.trim());
  const before = model.tokensEvaluated();
  const second = await session.promptWithMeta('What is a dragon?', { maxTokens: 5 });
  const newText = '\n\nUser: What is a dragon?\n\nAssistant:';
  // The history is in the state: this turn evaluates its own text and at most its 5 reply tokens.
  const evaluated = model.tokensEvaluated() - before;
  assert.ok(evaluated >= Buffer.byteLength(newText) && evaluated <= Buffer.byteLength(newText) + 5, `evaluated ${evaluated}`);
  assert.ok(['maxTokens', 'stopGenerationTrigger'].includes(second.metadata.stopReason));
  assert.deepStrictEqual(session.getChatHistory(), [
    { type: 'system', text: 'Be kind.' },
    { type: 'user', text: 'Hello there' },
    { type: 'model', response: [first] },
    { type: 'user', text: 'What is a dragon?' },
    { type: 'model', response: [second.response] },
  ]);
});

test('maxTokens, streaming chunks, and abort with and without stopOnAbortSignal', async () => {
  const session = new ChatSession({ model, temperature: 1, seed: 3 });
  const chunks = [];
  const r = await session.promptWithMeta('Tell me a long story', { maxTokens: 1, onTextChunk: (c) => chunks.push(c) });
  assert.strictEqual(r.metadata.stopReason, 'maxTokens');
  assert.strictEqual(chunks.join('').trim(), r.response);

  const controller = new AbortController();
  let n = 0;
  const aborted = await session.promptWithMeta('And another one', { maxTokens: 10000, onTextChunk: () => { if (++n === 3) controller.abort(); }, signal: controller.signal });
  assert.strictEqual(aborted.metadata.stopReason, 'abort');
  assert.ok(n >= 3 && n < 10000);

  const c2 = new AbortController();
  const reason = new Error('stop now');
  let m = 0;
  await assert.rejects(session.prompt('Once more', { maxTokens: 10000, signal: c2.signal, stopOnAbortSignal: false, onTextChunk: () => { if (++m === 2) c2.abort(reason); } }), (e) => e === reason);
});

test('setChatHistory: the next prompt continues from that history as if it had been said', async () => {
  const session = new ChatSession({ model, temperature: 0, maxTokens: 16 });
  session.setChatHistory([
    { type: 'system', text: 'You answer briefly.' },
    { type: 'user', text: 'Hi' },
    { type: 'model', response: ['Hello.'] },
  ]);
  assert.deepStrictEqual(session.getChatHistory().map((i) => i.type), ['system', 'user', 'model']);
  const reply = await session.prompt('Who are you?');
  const transcript = 'System: You answer briefly.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Who are you?\n\nAssistant:';
  const direct = await model.completion({ prompt: transcript, temperature: 0, max_tokens: 16, stop: STOP });
  assert.strictEqual(reply, direct.completion.trim());
  session.resetChatHistory();
  assert.deepStrictEqual(session.getChatHistory(), [{ type: 'system', text: 'You answer briefly.' }]);
  const fresh = await session.prompt('Hi');
  const freshDirect = await model.completion({ prompt: 'System: You answer briefly.\n\nUser: Hi\n\nAssistant:', temperature: 0, max_tokens: 16, stop: STOP });
  assert.strictEqual(fresh, freshDirect.completion.trim());
});

test('bad options are refused by name; one prompt at a time', async () => {
  assert.throws(() => new ChatSession({}), /needs \{model\}/);
  assert.throws(() => new ChatSession({ model, temprature: 1 }), /Unknown ChatSession option "temprature"/);
  const session = new ChatSession({ model, maxTokens: 4 });
  await assert.rejects(session.prompt('x', { topp: 1 }), /Unknown prompt option "topp"/);
  await assert.rejects(session.prompt('x', { maxTokens: 0 }), RangeError);
  assert.throws(() => session.setChatHistory([{ type: 'bot', text: 'x' }]), /'system', 'user' or 'model'/);
  const running = session.prompt('one');
  await assert.rejects(session.prompt('two'), /already running/);
  await running;
  assert.strictEqual(session.getChatHistory().length, 2);
});
