'use strict';
// The OpenAI-compatible HTTP API (lib/server.js) driven over real sockets on 127.0.0.1, its answers
// checked against the library's own completions, and `rwkv-node serve` as a child process.
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const RWKV = require('..');
const { createServer, chatPrompt } = require('../lib/server');
const { tiny } = require('./helpers');

const MODEL = tiny('tiny-rwkv-5v1-730K-FP32'); // byte vocabulary: token = byte
const BIN = path.join(__dirname, '..', 'bin', 'rwkv-node.js');
let model, server, base;

function listen(srv) {
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${srv.address().port}`)));
}

/** One request; resolves to {status, headers, text, json}. */
function request(url, { method = 'GET', body, headers = {}, raw } = {}) {
  return new Promise((resolve, reject) => {
    const payload = raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined;
    const req = http.request(url, { method, headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* a stream or an empty body */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const post = (route, body, opts = {}) => request(`${base}${route}`, { method: 'POST', body, ...opts });

/** The data lines of a server-sent event stream, JSON-parsed (the last one is "[DONE]"). */
function events(text) {
  const out = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  return out.map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
}

before(async () => {
  model = await new RWKV({ path: MODEL, threads: 2, concurrent: 4 }).setup();
  server = createServer(model, { maxBodyBytes: 64 * 1024 });
  base = await listen(server);
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await model.free();
});

test('GET /v1/models lists the model; /v1/models/<id> finds it, another id is a 404', async () => {
  const r = await request(`${base}/v1/models`);
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.json.object, 'list');
  assert.deepStrictEqual(r.json.data.map((m) => m.id), ['tiny-rwkv-5v1-730K-FP32']);
  const one = await request(`${base}/v1/models/tiny-rwkv-5v1-730K-FP32`);
  assert.strictEqual(one.status, 200);
  assert.strictEqual(one.json.id, 'tiny-rwkv-5v1-730K-FP32');
  const other = await request(`${base}/v1/models/gpt-4`);
  assert.strictEqual(other.status, 404);
  assert.strictEqual(other.json.error.code, 'model_not_found');
  // Without the /v1 prefix too, as llama.cpp's server.
  assert.strictEqual((await request(`${base}/models`)).status, 200);
});

test('/v1/completions: the text and usage of the library completion with the same options', async () => {
  const body = { prompt: 'The cat sat on the', max_tokens: 24, temperature: 0.8, top_p: 0.9, seed: 7, presence_penalty: 0.3, stop: ['\n\n'] };
  const r = await post('/v1/completions', body);
  assert.strictEqual(r.status, 200, r.text);
  assert.strictEqual(r.json.object, 'text_completion');
  assert.match(r.json.id, /^cmpl-/);
  const direct = await model.completion({ prompt: body.prompt, max_tokens: 24, temperature: 0.8, top_p: 0.9, seed: 7, presence_penalty: 0.3, stop: ['\n\n'] });
  assert.strictEqual(r.json.choices.length, 1);
  assert.strictEqual(r.json.choices[0].text, direct.completion);
  assert.strictEqual(r.json.choices[0].finish_reason, direct.finishReason === 'length' ? 'length' : 'stop');
  assert.strictEqual(r.json.usage.prompt_tokens, 18);
  assert.strictEqual(r.json.usage.completion_tokens, direct.usage.completionTokens);
  assert.strictEqual(r.json.usage.total_tokens, 18 + direct.usage.completionTokens);
  // OpenAI's default length for this endpoint is 16 tokens.
  const short = await post('/v1/completions', { prompt: 'The cat', temperature: 0 });
  assert.strictEqual(short.json.usage.completion_tokens, 16);
  assert.strictEqual(short.json.choices[0].finish_reason, 'length');
});

test('/v1/completions streamed: the chunks join to the whole answer, then usage and [DONE]', async () => {
  const body = { prompt: 'Once upon a time', max_tokens: 30, temperature: 1, seed: 11, stream: true, stream_options: { include_usage: true } };
  const r = await post('/v1/completions', body);
  assert.strictEqual(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  const ev = events(r.text);
  assert.strictEqual(ev[ev.length - 1], '[DONE]');
  const usage = ev[ev.length - 2];
  assert.deepStrictEqual(usage.choices, []);
  const chunks = ev.slice(0, -2);
  assert.ok(chunks.length >= 2, 'text arrives in several chunks');
  const streamed = chunks.map((e) => e.choices[0].text).join('');
  const finish = chunks[chunks.length - 1].choices[0].finish_reason;
  assert.ok(chunks.slice(0, -1).every((e) => e.choices[0].finish_reason === null));
  const whole = await post('/v1/completions', { ...body, stream: false });
  assert.strictEqual(streamed, whole.json.choices[0].text);
  assert.strictEqual(finish, whole.json.choices[0].finish_reason);
  assert.strictEqual(usage.usage.completion_tokens, whole.json.usage.completion_tokens);
  assert.ok(new Set(chunks.map((e) => e.id)).size === 1, 'one id for the whole stream');
});

test('/v1/completions: token-id prompts, several prompts, n choices and echo', async () => {
  const ids = [...Buffer.from('The dog')];
  const byIds = await post('/v1/completions', { prompt: ids, max_tokens: 12, temperature: 0 });
  const byText = await post('/v1/completions', { prompt: 'The dog', max_tokens: 12, temperature: 0 });
  assert.strictEqual(byIds.status, 200, byIds.text);
  assert.strictEqual(byIds.json.choices[0].text, byText.json.choices[0].text);

  const r = await post('/v1/completions', { prompt: ['A bird', 'The sea'], n: 2, max_tokens: 10, temperature: 1, seed: 3 });
  assert.strictEqual(r.status, 200, r.text);
  assert.deepStrictEqual(r.json.choices.map((c) => c.index), [0, 1, 2, 3]);
  // Choice i of a prompt draws with seed + i: each is the library's completion with that seed.
  for (const [index, prompt, seed] of [[0, 'A bird', 3], [1, 'A bird', 4], [2, 'The sea', 3], [3, 'The sea', 4]]) {
    const direct = await model.completion({ prompt, max_tokens: 10, temperature: 1, seed });
    assert.strictEqual(r.json.choices[index].text, direct.completion, `choice ${index}`);
  }
  assert.strictEqual(r.json.usage.prompt_tokens, 6 + 7); // each prompt once, whatever n
  assert.strictEqual(r.json.usage.completion_tokens, 40);

  const echo = await post('/v1/completions', { prompt: 'The dog', max_tokens: 12, temperature: 0, echo: true });
  assert.strictEqual(echo.json.choices[0].text, `The dog${byText.json.choices[0].text}`);
});

test('/v1/chat/completions: the World chat template, its stop strings, and the reply without the leading space', async () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Where do cats sleep?\n\n\nAnywhere?' }];
  assert.strictEqual(chatPrompt(messages), 'System: Be brief.\n\nUser: Where do cats sleep?\nAnywhere?\n\nAssistant:');
  const r = await post('/v1/chat/completions', { messages, max_tokens: 40, temperature: 1, seed: 5 });
  assert.strictEqual(r.status, 200, r.text);
  assert.strictEqual(r.json.object, 'chat.completion');
  assert.match(r.json.id, /^chatcmpl-/);
  const direct = await model.completion({ prompt: chatPrompt(messages), max_tokens: 40, temperature: 1, seed: 5, stop: ['\n\nUser:', '\n\n'] });
  const msg = r.json.choices[0].message;
  assert.strictEqual(msg.role, 'assistant');
  assert.strictEqual(msg.content, direct.completion.trimStart());
  assert.ok(!msg.content.includes('\n\n'));
  assert.strictEqual(r.json.usage.prompt_tokens, Buffer.byteLength(chatPrompt(messages)));
  // Content given as text parts reads the same.
  const parts = await post('/v1/chat/completions', { messages: [messages[0], { role: 'user', content: [{ type: 'text', text: 'Where do cats sleep?\n\n\nAnywhere?' }] }], max_tokens: 40, temperature: 1, seed: 5 });
  assert.strictEqual(parts.json.choices[0].message.content, msg.content);
});

test('/v1/chat/completions streamed: role first, deltas join to the whole reply, finish, [DONE]', async () => {
  const body = { messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 40, temperature: 1, seed: 9 };
  const whole = await post('/v1/chat/completions', body);
  const r = await post('/v1/chat/completions', { ...body, stream: true });
  const ev = events(r.text);
  assert.strictEqual(ev[ev.length - 1], '[DONE]');
  assert.deepStrictEqual(ev[0].choices[0].delta, { role: 'assistant', content: '' });
  const last = ev[ev.length - 2];
  assert.deepStrictEqual(last.choices[0].delta, {});
  assert.strictEqual(last.choices[0].finish_reason, whole.json.choices[0].finish_reason);
  const text = ev.slice(1, -2).map((e) => e.choices[0].delta.content).join('');
  assert.strictEqual(text, whole.json.choices[0].message.content);
  assert.ok(ev.every((e) => e === '[DONE]' || e.object === 'chat.completion.chunk'));
});

test('a conversation\'s next request starts from the cached state of the one before', async () => {
  const first = [{ role: 'user', content: 'Hello, who are you?' }];
  const a = await post('/v1/chat/completions', { messages: first, max_tokens: 30, temperature: 0 });
  const reply = a.json.choices[0].message.content;
  const second = [...first, { role: 'assistant', content: reply }, { role: 'user', content: 'And what do you like?' }];
  const b = await post('/v1/chat/completions', { messages: second, max_tokens: 10, temperature: 0 });
  assert.strictEqual(b.status, 200);
  // At least the whole first prompt came from the prefix cache (the reply too, unless its end was trimmed).
  const firstPrompt = Buffer.byteLength(chatPrompt(first));
  assert.ok(b.json.usage.prompt_tokens_details.cached_tokens >= firstPrompt, `cached ${b.json.usage.prompt_tokens_details.cached_tokens} of ${b.json.usage.prompt_tokens}, first prompt ${firstPrompt}`);
  assert.strictEqual(b.json.usage.prompt_tokens, Buffer.byteLength(chatPrompt(second)));
});

test('bad requests get 4xx with OpenAI\'s error shape and the field named', async () => {
  const cases = [
    [{ raw: '{not json' }, '/v1/completions', 400, null],
    [{ raw: '[1,2]' }, '/v1/completions', 400, null],
    [{ body: { max_tokens: 5 } }, '/v1/completions', 400, 'prompt'],
    [{ body: { prompt: '' } }, '/v1/completions', 400, 'prompt'],
    [{ body: { prompt: 'x', temperature: -1 } }, '/v1/completions', 400, 'temperature'],
    [{ body: { prompt: 'x', top_p: 2 } }, '/v1/completions', 400, 'top_p'],
    [{ body: { prompt: 'x', max_tokens: 2.5 } }, '/v1/completions', 400, 'max_tokens'],
    [{ body: { prompt: 'x', n: 0 } }, '/v1/completions', 400, 'n'],
    [{ body: { prompt: 'x', stop: [1] } }, '/v1/completions', 400, 'stop'],
    [{ body: { prompt: [999999] } }, '/v1/completions', 400, 'prompt'],
    [{ body: { prompt: 'x', logit_bias: { 99999: 1 } } }, '/v1/completions', 400, 'logit_bias'],
    [{ body: { prompt: 'x', logprobs: 2 } }, '/v1/completions', 400, 'logprobs'],
    [{ body: { messages: [] } }, '/v1/chat/completions', 400, 'messages'],
    [{ body: { messages: [{ role: 'tool', content: 'x' }] } }, '/v1/chat/completions', 400, 'messages[0].role'],
    [{ body: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] } }, '/v1/chat/completions', 400, 'messages[0].content[0]'],
    [{ body: { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] } }, '/v1/chat/completions', 400, 'tools'],
    [{ raw: JSON.stringify({ prompt: 'x'.repeat(70 * 1024) }) }, '/v1/completions', 413, null],
  ];
  for (const [opts, route, status, param] of cases) {
    const r = await post(route, undefined, opts);
    assert.strictEqual(r.status, status, `${route} ${JSON.stringify(opts).slice(0, 80)}: ${r.text}`);
    assert.strictEqual(typeof r.json.error.message, 'string');
    assert.ok(r.json.error.message.length > 0);
    if (param) assert.strictEqual(r.json.error.param, param, r.json.error.message);
  }
  const notFound = await request(`${base}/v1/embeddings`, { method: 'POST', body: {} });
  assert.strictEqual(notFound.status, 404);
  const wrongMethod = await request(`${base}/v1/completions`);
  assert.strictEqual(wrongMethod.status, 405);
  // Nothing of that left work behind, and the server still answers.
  assert.strictEqual(model.activeWorkCount(), 0);
  assert.strictEqual((await post('/v1/completions', { prompt: 'ok', max_tokens: 2 })).status, 200);
});

test('a client that leaves mid-stream stops its completion', { timeout: 60000 }, async () => {
  const before = model.tokensEvaluated();
  await new Promise((resolve, reject) => {
    const req = http.request(`${base}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.once('data', () => {
        // The first chunk arrived: the completion is running. Leave.
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.end(JSON.stringify({ prompt: 'Once', max_tokens: 1000000, temperature: 1, stream: true }));
    setTimeout(() => reject(new Error('no chunk arrived')), 20000).unref();
  });
  // The completion ends within a token of the disconnect; wait for it without a time limit of our own.
  while (model.activeWorkCount() > 0) await new Promise((r) => setTimeout(r, 10));
  const evaluated = model.tokensEvaluated() - before;
  assert.ok(evaluated < 100000, `stopped after ${evaluated} tokens`);
  const health = await request(`${base}/health`);
  assert.deepStrictEqual([health.json.status, health.json.active, health.json.pending], ['ok', 0, 0]);
});

test('an API key guards /v1 (not /health); CORS answers preflight requests', async () => {
  const guarded = createServer(model, { apiKey: 'sk-test', cors: true, modelName: 'tiny' });
  const url = await listen(guarded);
  try {
    assert.strictEqual((await request(`${url}/v1/models`)).status, 401);
    const wrong = await request(`${url}/v1/models`, { headers: { Authorization: 'Bearer nope' } });
    assert.strictEqual(wrong.status, 401);
    assert.strictEqual(wrong.json.error.code, 'invalid_api_key');
    const ok = await request(`${url}/v1/models`, { headers: { Authorization: 'Bearer sk-test' } });
    assert.strictEqual(ok.status, 200);
    assert.strictEqual(ok.json.data[0].id, 'tiny');
    assert.strictEqual(ok.headers['access-control-allow-origin'], '*');
    assert.strictEqual((await request(`${url}/health`)).status, 200);
    const pre = await request(`${url}/v1/chat/completions`, { method: 'OPTIONS' });
    assert.strictEqual(pre.status, 204);
    assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
  } finally {
    guarded.closeAllConnections();
    await new Promise((r) => guarded.close(r));
  }
});

test('concurrent requests all get their own answers', async () => {
  const prompts = ['One', 'Two', 'Three', 'Four', 'Five', 'Six'];
  const answers = await Promise.all(prompts.map((p) => post('/v1/completions', { prompt: p, max_tokens: 15, temperature: 0 })));
  for (let i = 0; i < prompts.length; i++) {
    const direct = await model.completion({ prompt: prompts[i], max_tokens: 15, temperature: 0 });
    assert.strictEqual(answers[i].json.choices[0].text, direct.completion, prompts[i]);
  }
});

test('rwkv-node serve: listens, answers, stops on SIGINT with exit 0; a taken port is a clear error', async () => {
  const start = (args) => spawn(process.execPath, [BIN, 'serve', MODEL, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = start(['--name', 'cli-model', '--concurrent', '2']);
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('close', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const models = await request(`${url}/v1/models`);
  assert.deepStrictEqual(models.json.data.map((m) => m.id), ['cli-model']);
  const r = await request(`${url}/v1/chat/completions`, { method: 'POST', body: { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 } });
  assert.strictEqual(r.status, 200);
  const code = await new Promise((resolve) => {
    child.removeAllListeners('close');
    child.on('close', resolve);
    child.kill('SIGINT');
  });
  assert.strictEqual(code, 0, stderr);
  assert.match(stderr, /POST \/v1\/chat\/completions 200/);
  assert.match(stderr, /SIGINT: stopping/);

  const blocker = http.createServer();
  const port = await new Promise((r) => blocker.listen(0, '127.0.0.1', () => r(blocker.address().port)));
  try {
    const taken = spawn(process.execPath, [BIN, 'serve', MODEL, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    taken.stderr.on('data', (d) => (err += d));
    const exit = await new Promise((r) => taken.on('close', r));
    assert.strictEqual(exit, 1);
    assert.match(err, new RegExp(`port ${port} on 127.0.0.1 is in use`));
  } finally {
    blocker.close();
  }
  const badPort = spawn(process.execPath, [BIN, 'serve', MODEL, '--port', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  assert.strictEqual(await new Promise((r) => badPort.on('close', r)), 2);
});
