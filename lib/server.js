'use strict';
// An OpenAI-compatible HTTP API over one loaded model, on Node's own http module: GET /v1/models,
// POST /v1/completions and POST /v1/chat/completions, whole or streamed as server-sent events.
// Requests become completions of the model, so concurrent requests share its weights and their decode
// steps are batched (the model's `concurrent` sets how many run at once; the rest wait in its FIFO
// queue). A chat's next request repeats the conversation so far, which the prefix cache has already
// seen: only the new message is evaluated. Arguments are checked before any response byte is sent,
// so a bad request always gets a 400 with OpenAI's error shape, never a half-open stream.
const http = require('http');
const crypto = require('crypto');
const path = require('path');
const { normalizeCompletionOptions } = require('./completion-options');
const { TURN_SEPARATOR, messageLine, replyStops } = require('./cli-conversation');

const MAX_STOPS = 16;
const MAX_CHOICES = 16;

/** A request the server refuses: the HTTP status and OpenAI's {error: {message, type, param, code}}. */
class ApiError extends Error {
  constructor(status, message, { type = 'invalid_request_error', param = null, code = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }
}

const bad = (message, param = null, code = null) => new ApiError(400, message, { param, code });

/** A message's text: a string, or OpenAI's array of content parts (text parts only). */
function messageText(content, param) {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw bad(`${param} must be a string or an array of content parts`, param);
  return content.map((part, i) => {
    if (part === null || typeof part !== 'object' || part.type !== 'text' || typeof part.text !== 'string') {
      throw bad(`${param}[${i}]: only text content parts ({type: "text", text}) are supported`, `${param}[${i}]`);
    }
    return part.text;
  }).join('\n');
}

/**
 * The prompt of a chat: the RWKV World chat template the CLI's chat uses ("System: …", "User: …",
 * "Assistant: …", messages separated by a blank line), ending with the assistant's cue.
 */
function chatPrompt(messages, { userName = 'User', assistantName = 'Assistant', systemPrompt = '' } = {}) {
  if (!Array.isArray(messages) || messages.length === 0) throw bad('messages must be a non-empty array', 'messages');
  const names = { system: 'System', developer: 'System', user: userName, assistant: assistantName };
  const turns = [];
  if (systemPrompt && !messages.some((m) => m && (m.role === 'system' || m.role === 'developer'))) turns.push(messageLine('System', systemPrompt));
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object') throw bad(`messages[${i}] must be an object {role, content}`, `messages[${i}]`);
    const name = Object.prototype.hasOwnProperty.call(names, m.role) ? names[m.role] : null;
    if (!name) throw bad(`messages[${i}].role must be one of system, developer, user, assistant (got ${JSON.stringify(m.role)}); tool calls are not supported`, `messages[${i}].role`);
    turns.push(messageLine(name, messageText(m.content, `messages[${i}].content`)));
  });
  return `${turns.join(TURN_SEPARATOR)}${TURN_SEPARATOR}${assistantName}:`;
}

function integerIn(body, name, lo, hi, fallback) {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(`${name} must be a whole number from ${lo} to ${hi} (got ${JSON.stringify(v)})`, name);
  return v;
}

/** Fields of OpenAI's API this server cannot honour: refused rather than silently ignored. */
function refuseUnsupported(body) {
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false && body.logprobs !== 0) throw bad('logprobs are not supported', 'logprobs');
  if (body.top_logprobs) throw bad('top_logprobs are not supported', 'top_logprobs');
  if (body.suffix) throw bad('suffix (insertion) is not supported', 'suffix');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) throw bad('best_of other than 1 is not supported', 'best_of');
  if (Array.isArray(body.tools) ? body.tools.length > 0 : body.tools) throw bad('tools are not supported', 'tools');
  if (Array.isArray(body.functions) ? body.functions.length > 0 : body.functions) throw bad('functions are not supported', 'functions');
  const format = body.response_format;
  if (format !== undefined && format !== null && !(typeof format === 'object' && format.type === 'text')) throw bad('response_format other than {type: "text"} is not supported', 'response_format');
}

/**
 * The completion options a request asks for (without prompt, stream callback and signal), in the
 * library's names; `maxTokens` when the request names none.
 */
function samplingOptions(body, maxTokens) {
  const out = {};
  const copy = (from, to) => {
    if (body[from] !== undefined && body[from] !== null) out[to] = body[from];
  };
  copy('max_tokens', 'max_tokens');
  copy('max_completion_tokens', 'max_tokens');
  if (out.max_tokens === undefined) out.max_tokens = maxTokens;
  for (const name of ['temperature', 'top_p', 'top_k', 'min_p', 'presence_penalty', 'frequency_penalty', 'penalty_decay', 'seed', 'logit_bias']) copy(name, name);
  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) throw bad('stop must be a string or an array of strings', 'stop');
    if (list.length > MAX_STOPS) throw bad(`stop takes at most ${MAX_STOPS} strings`, 'stop');
    out.stop = list;
  }
  return out;
}

const API_NAMES = {
  maxTokens: 'max_tokens', temperature: 'temperature', topP: 'top_p', topK: 'top_k', minP: 'min_p', presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty', penaltyDecay: 'penalty_decay', seed: 'seed', logitBias: 'logit_bias', stop: 'stop', tokens: 'prompt',
};

const LIBRARY_NAME = new RegExp(`\\b(${Object.keys(API_NAMES).join('|')})\\b`);

/** Checks the options with the library's own rules (a TypeError/RangeError becomes a 400 naming the field). */
function checkOptions(model, options) {
  try {
    normalizeCompletionOptions(options, model);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) {
      // The library names its options in camelCase; the API's fields are snake_case.
      const m = LIBRARY_NAME.exec(err.message);
      const field = m ? API_NAMES[m[1]] : null;
      throw bad(m ? err.message.replace(m[0], field) : err.message, field);
    }
    throw err;
  }
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0, failed = false;
    req.on('data', (chunk) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new ApiError(413, `request body larger than ${limit} bytes`, { code: 'request_too_large' }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', (err) => { if (!failed) { failed = true; reject(err); } });
  });
}

function parseJson(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw bad(`the request body is not valid JSON: ${err.message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('the request body must be a JSON object');
  return body;
}

function sameSecret(given, expected) {
  const a = crypto.createHash('sha256').update(String(given)).digest();
  const b = crypto.createHash('sha256').update(String(expected)).digest();
  return crypto.timingSafeEqual(a, b);
}

/**
 * An http.Server answering OpenAI's API with `model` (set up). Options: `modelName` (the id it
 * reports; default the file name without extension), `apiKey` (then every /v1 request needs
 * "Authorization: Bearer <key>"), `maxTokens` (chat replies when the request names no limit;
 * default 1024; /v1/completions keeps OpenAI's 16), `systemPrompt` (for chats without a system
 * message), `userName`, `assistantName`, `cors` (allow browser pages of any origin), `maxBodyBytes`
 * (default 4 MiB), `onRequest({method, url, status, promptTokens, completionTokens, ms})`.
 * The server also has `abortAll()`, which ends every request in flight (for shutdown).
 */
function createServer(model, options = {}) {
  if (!model || typeof model.completion !== 'function') throw new TypeError('createServer needs an RWKV model (after setup())');
  const info = model.info; // throws if not set up
  const modelName = options.modelName || path.basename(info.path).replace(/\.[^.]+$/, '');
  const chatMaxTokens = options.maxTokens ?? 1024;
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const template = { userName: options.userName || 'User', assistantName: options.assistantName || 'Assistant', systemPrompt: options.systemPrompt || '' };
  const created = Math.floor(Date.now() / 1000);
  const inFlight = new Set();
  const fingerprint = `rwkv-node-${require('../package.json').version}`;

  function send(res, status, obj, extraHeaders = {}) {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extraHeaders });
    res.end(body);
  }

  function sendError(res, err) {
    if (res.headersSent) {
      // A stream already started: the error goes in the stream, as OpenAI's does.
      if (!res.writableEnded) res.end(`data: ${JSON.stringify({ error: { message: err.message, type: err.type || 'server_error', param: null, code: err.code || null } })}\n\n`);
      return;
    }
    const status = err instanceof ApiError ? err.status : 500;
    const type = err instanceof ApiError ? err.type : 'server_error';
    send(res, status, { error: { message: err.message, type, param: err.param ?? null, code: err.code ?? null } });
  }

  const modelObject = () => ({ id: modelName, object: 'model', created, owned_by: 'rwkv-node' });

  /**
   * Runs the completions a request asks for (prompts × n), streaming through `onChunk(index, text)`
   * when given; resolves to the results in choice order.
   */
  async function runChoices(prompts, n, sampling, signal, onChunk) {
    const jobs = [];
    prompts.forEach((prompt, p) => {
      for (let i = 0; i < n; i++) {
        const index = p * n + i;
        const opts = { ...sampling, signal };
        if (typeof prompt === 'string') opts.prompt = prompt;
        else opts.tokens = prompt;
        // n choices from one seed must differ, and stay repeatable.
        if (sampling.seed !== undefined && n > 1) opts.seed = sampling.seed + i;
        if (onChunk) opts.onTextChunk = (chunk) => onChunk(index, chunk);
        jobs.push(model.completion(opts));
      }
    });
    return Promise.all(jobs);
  }

  const finishReason = (r) => (r.finishReason === 'length' ? 'length' : 'stop');

  function usageOf(results, n) {
    // The prompt counts once per prompt, as OpenAI counts it for n choices.
    let prompt = 0, cached = 0, completion = 0;
    results.forEach((r, i) => {
      if (i % n === 0) {
        prompt += r.usage.promptTokens;
        cached += r.usage.promptTokensCached;
      }
      completion += r.usage.completionTokens;
    });
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
  }

  function startStream(res) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    return (obj) => { if (!res.writableEnded && !res.destroyed) res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`); };
  }

  /** The end of a stream: each choice's last event (`finishChoice`), the usage when asked for, then [DONE]. */
  function endStream(res, event, head, results, n, body, finishChoice) {
    results.forEach((r, index) => event({ ...head(), choices: [finishChoice(r, index)] }));
    const usage = usageOf(results, n);
    if (body.stream_options && body.stream_options.include_usage) event({ ...head(), choices: [], usage });
    event('[DONE]');
    res.end();
    return usage;
  }

  async function completions(body, res, signal, record) {
    refuseUnsupported(body);
    let prompts = body.prompt;
    if (prompts === undefined || prompts === null) throw bad('prompt is required', 'prompt');
    // A string, an array of strings, an array of token ids, or an array of such arrays.
    if (typeof prompts === 'string' || (Array.isArray(prompts) && prompts.length > 0 && typeof prompts[0] === 'number')) prompts = [prompts];
    if (!Array.isArray(prompts) || prompts.length === 0) throw bad('prompt must be a string, an array of strings, or token ids', 'prompt');
    const n = integerIn(body, 'n', 1, MAX_CHOICES, 1);
    if (prompts.length * n > MAX_CHOICES) throw bad(`at most ${MAX_CHOICES} choices a request (prompts × n)`, 'n');
    const sampling = samplingOptions(body, 16);
    prompts.forEach((p, i) => {
      if (typeof p !== 'string' && !Array.isArray(p)) throw bad(`prompt[${i}] must be a string or an array of token ids`, 'prompt');
      if (p.length === 0) throw bad(`prompt${prompts.length > 1 ? `[${i}]` : ''} is empty`, 'prompt');
      checkOptions(model, typeof p === 'string' ? { ...sampling, prompt: p } : { ...sampling, tokens: p });
    });
    const echo = body.echo === true;
    const promptText = (p) => (typeof p === 'string' ? p : model.detokenize(p));
    const id = `cmpl-${crypto.randomBytes(12).toString('hex')}`;
    const head = () => ({ id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: modelName, system_fingerprint: fingerprint });
    if (body.stream === true) {
      const event = startStream(res);
      if (echo) prompts.forEach((p, pi) => { for (let i = 0; i < n; i++) event({ ...head(), choices: [{ text: promptText(p), index: pi * n + i, logprobs: null, finish_reason: null }] }); });
      const results = await runChoices(prompts, n, sampling, signal, (index, text) => event({ ...head(), choices: [{ text, index, logprobs: null, finish_reason: null }] }));
      record(endStream(res, event, head, results, n, body, (r, index) => ({ text: '', index, logprobs: null, finish_reason: finishReason(r) })));
      return;
    }
    const results = await runChoices(prompts, n, sampling, signal, null);
    const usage = usageOf(results, n);
    send(res, 200, {
      ...head(),
      choices: results.map((r, index) => ({ text: (echo ? promptText(prompts[Math.floor(index / n)]) : '') + r.completion, index, logprobs: null, finish_reason: finishReason(r) })),
      usage,
    });
    record(usage);
  }

  async function chatCompletions(body, res, signal, record) {
    refuseUnsupported(body);
    const prompt = chatPrompt(body.messages, template);
    const n = integerIn(body, 'n', 1, MAX_CHOICES, 1);
    const sampling = samplingOptions(body, chatMaxTokens);
    // The end of the assistant's message: a blank line (the template's separator) or the user's cue.
    sampling.stop = [...replyStops(template.userName), ...(sampling.stop || [])];
    checkOptions(model, { ...sampling, prompt });
    const id = `chatcmpl-${crypto.randomBytes(12).toString('hex')}`;
    const head = () => ({ id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: modelName, system_fingerprint: fingerprint });
    if (body.stream === true) {
      const event = startStream(res);
      // The template puts a space after "Assistant:": a reply's leading whitespace is not content.
      const started = new Array(n).fill(false);
      for (let index = 0; index < n; index++) event({ ...head(), choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
      const results = await runChoices([prompt], n, sampling, signal, (index, text) => {
        const content = started[index] ? text : text.trimStart();
        if (content === '') return;
        started[index] = true;
        event({ ...head(), choices: [{ index, delta: { content }, logprobs: null, finish_reason: null }] });
      });
      record(endStream(res, event, head, results, n, body, (r, index) => ({ index, delta: {}, logprobs: null, finish_reason: finishReason(r) })));
      return;
    }
    const results = await runChoices([prompt], n, sampling, signal, null);
    const usage = usageOf(results, n);
    send(res, 200, {
      ...head(),
      object: 'chat.completion',
      choices: results.map((r, index) => ({ index, message: { role: 'assistant', content: r.completion.trimStart() }, logprobs: null, finish_reason: finishReason(r) })),
      usage,
    });
    record(usage);
  }

  async function handle(req, res) {
    const t0 = Date.now();
    const url = (req.url || '/').split('?')[0].replace(/\/+$/, '') || '/';
    // The /v1 prefix is optional, as in llama.cpp's server.
    const route = url.startsWith('/v1/') || url === '/v1' ? url.slice(3) || '/' : url;
    let usage = null;
    const record = (u) => { usage = u; };
    const controller = new AbortController();
    res.on('close', () => {
      // The client went away before the answer was complete: stop its completions within a token.
      if (!res.writableFinished) controller.abort();
      inFlight.delete(controller);
      if (options.onRequest) {
        options.onRequest({ method: req.method, url: req.url, status: res.statusCode, promptTokens: usage ? usage.prompt_tokens : 0, completionTokens: usage ? usage.completion_tokens : 0, ms: Date.now() - t0, aborted: controller.signal.aborted });
      }
    });
    inFlight.add(controller);
    try {
      if (options.cors) {
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        if (req.method === 'OPTIONS') {
          res.writeHead(204);
          res.end();
          return;
        }
      }
      if (route === '/health' && req.method === 'GET') {
        send(res, 200, { status: 'ok', model: modelName, active: model.activeWorkCount(), pending: model.pendingWorkCount() });
        return;
      }
      if (options.apiKey) {
        const auth = String(req.headers.authorization || '');
        const m = /^Bearer\s+(.+)$/i.exec(auth);
        if (!m || !sameSecret(m[1].trim(), options.apiKey)) {
          throw new ApiError(401, 'a valid API key is required: send "Authorization: Bearer <key>"', { code: 'invalid_api_key' });
        }
      }
      const routes = {
        '/models': { GET: () => send(res, 200, { object: 'list', data: [modelObject()] }) },
        [`/models/${modelName}`]: { GET: () => send(res, 200, modelObject()) },
        '/completions': { POST: async () => completions(parseJson(await readBody(req, maxBodyBytes)), res, controller.signal, record) },
        '/chat/completions': { POST: async () => chatCompletions(parseJson(await readBody(req, maxBodyBytes)), res, controller.signal, record) },
      };
      const entry = routes[route];
      if (!entry) {
        if (route.startsWith('/models/')) throw new ApiError(404, `model '${decodeURIComponent(route.slice(8))}' not found: this server has '${modelName}'`, { code: 'model_not_found' });
        throw new ApiError(404, `no route ${req.method} ${url}; this server answers GET /v1/models, POST /v1/completions and POST /v1/chat/completions`, { code: 'not_found' });
      }
      const handler = entry[req.method];
      if (!handler) throw new ApiError(405, `${url} takes ${Object.keys(entry).join(', ')}, not ${req.method}`, { code: 'method_not_allowed' });
      await handler();
    } catch (err) {
      sendError(res, err);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      // handle() answers every error itself; this is the last line against an unhandled rejection.
      try { sendError(res, err); } catch { res.destroy(); }
    });
  });
  server.abortAll = () => { for (const c of inFlight) c.abort(); };
  server.modelName = modelName;
  return server;
}

module.exports = { createServer, chatPrompt, ApiError };
