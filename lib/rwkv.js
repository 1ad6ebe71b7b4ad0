'use strict';
// RWKV: the public class. A drop-in superset of RWKV-cpp-node's API (constructor, setup,
// completion, preloadPrompt, free, activeWorkCount, pendingWorkCount) plus eval on token ids, explicit
// states, streaming, abort and tokenizer access. JS owns the contract: it validates and normalises
// arguments, then calls the native addon with flat values.
const fs = require('fs');
const os = require('os');
const addon = require('./binding');
const { RwkvError } = require('./errors');
const check = require('./validate');
const { resolveTokenizer, Tokenizer } = require('./tokenizer');
const { normalizeCompletionOptions } = require('./completion-options');
const { WorkQueue } = require('./work-queue');
const { writeStateFile, readStateFile } = require('./state-file');
const { stateFromTuning } = require('./state-tuning');
const { normalizeGpuOffload, resolveGpuLayers } = require('./gpu-offload');

const CONFIG_KEYS = new Set(['path', 'threads', 'gpuOffload', 'gpuDevice', 'concurrent', 'batchSize', 'stateCacheSize', 'stateCacheBytes', 'memoryBudget', 'tokenizer']);

class RWKV {
  /**
   * @param {string | {path: string, threads?: number, concurrent?: number, batchSize?: number,
   *          tokenizer?: string | Tokenizer, gpuOffload?: number | string, stateCacheSize?: number | false}} config
   */
  constructor(config) {
    const cfg = typeof config === 'string' ? { path: config } : config;
    if (cfg === null || typeof cfg !== 'object') throw check.invalid('config', 'a model path or a config object', config);
    for (const key of Object.keys(cfg)) {
      if (!CONFIG_KEYS.has(key)) throw new TypeError(`Unknown RWKV option "${key}". Known options: ${[...CONFIG_KEYS].join(', ')}`);
    }
    this.path = check.string('path', cfg.path);
    this.threads = cfg.threads === undefined || cfg.threads === null ? 0 : check.number('threads', cfg.threads, { min: 0, max: 1024, integer: true });
    this.concurrent = cfg.concurrent === undefined ? 1 : cfg.concurrent === 'auto' ? 'auto' : check.number('concurrent', cfg.concurrent, { min: 1, max: 1024, integer: true });
    this.memoryBudget = cfg.memoryBudget === undefined ? null : check.number('memoryBudget', cfg.memoryBudget, { min: 1 });
    // null until setup(): then the engine's choice for this model (info.promptPassTokens).
    this.batchSize = cfg.batchSize === undefined || cfg.batchSize === null ? null : check.number('batchSize', cfg.batchSize, { min: 1, max: 4096, integer: true });
    this.gpuOffload = cfg.gpuOffload === undefined ? 0 : cfg.gpuOffload;
    this._gpu = normalizeGpuOffload(cfg.gpuOffload, cfg.gpuDevice);
    const cacheSize = cfg.stateCacheSize === undefined ? 50 : cfg.stateCacheSize;
    this.stateCacheSize = cacheSize === false ? 0 : check.number('stateCacheSize', cacheSize, { min: 0, integer: true });
    this.stateCacheBytes = cfg.stateCacheBytes === undefined ? 0 : check.number('stateCacheBytes', cfg.stateCacheBytes, { min: 0, integer: true });
    this._tokenizerOption = cfg.tokenizer;
    this._native = null;
    this._queue = new WorkQueue(this.concurrent === 'auto' ? 1 : this.concurrent);
    this._info = null;
  }

  /** Loads the model (memory-mapped; fast). Resolves to this. */
  async setup() {
    if (this._native) return this;
    let stat;
    try {
      stat = fs.statSync(this.path);
    } catch {
      throw new RwkvError(`RWKV model path is not a file: ${this.path} (it does not exist)`, 'E_IO');
    }
    if (!stat.isFile()) throw new RwkvError(`RWKV model path is not a file: ${this.path}`, 'E_IO');
    const gpuLayers = resolveGpuLayers(this._gpu, this.path);
    const native = await addon.loadModel(this.path, {
      threads: this.threads, cacheEntries: this.stateCacheSize, cacheBytes: this.stateCacheBytes,
      gpuLayers, gpuDevice: this._gpu.device, gpuRequired: this._gpu.required,
    });
    const info = native.info();
    if (this.concurrent === 'auto') {
      // Each concurrent stream costs one state (plus its logits); batching makes more streams nearly free
      // in bandwidth, so the pool is sized by memory: half the free memory by default, at most 64 streams.
      const perStream = info.stateSize * 4 * 2 + info.nVocab * 4 * 2;
      const budget = this.memoryBudget || os.freemem() / 2;
      this._queue.limit = Math.max(1, Math.min(64, Math.floor(budget / perStream)));
    }
    if (this.batchSize === null) this.batchSize = info.promptPassTokens;
    this._tokenizer = resolveTokenizer(this._tokenizerOption, this.path, info.nVocab);
    this._native = native;
    this._info = Object.freeze({ ...info, tokenizer: this._tokenizer.kind, path: this.path });
    return this;
  }

  /** {version, nLayer, nEmbd, nVocab, nHead, headSize, ffnSize, stateSize, dataType, ...} */
  get info() {
    this._check();
    return this._info;
  }

  get tokenizer() {
    this._check();
    return this._tokenizer;
  }

  /** @private */
  _check() {
    if (!this._native) {
      throw new RwkvError(this._freed ? 'This model has been freed; create a new RWKV instance' : 'RWKV context is not set, have you called setup()?', this._freed ? 'E_FREED' : 'E_NOT_SETUP');
    }
  }

  /** A new initial state (zeros; v4 has its own start value). */
  createState() {
    this._check();
    return this._native.initState();
  }

  /** Completions that may run at once (resolved from 'auto' after setup). */
  get concurrency() {
    return this._queue.limit;
  }

  /**
   * Evaluates token ids from `state` (or the initial state). The state passed in is not changed, unless
   * it is also `out.state`. With `out` the results go into the caller's arrays (and those are returned),
   * so a decode loop allocates nothing per token; do not touch them until the promise settles.
   * @returns {Promise<{logits: Float32Array, state: Float32Array}>}
   */
  async eval(tokens, state, out) {
    this._check();
    const ids = check.tokens('tokens', tokens, this._info.nVocab);
    const s = state === undefined || state === null ? null : check.state('state', state, this._info.stateSize);
    if (out === undefined || out === null) return this._native.eval(ids, s, true);
    if (typeof out !== 'object') throw check.invalid('out', 'an object {state?: Float32Array, logits?: Float32Array}', out);
    const o = {};
    if (out.state !== undefined && out.state !== null) o.state = check.state('out.state', out.state, this._info.stateSize);
    const V = this._info.nVocab;
    if (out.logits !== undefined && out.logits !== null) o.logits = check.floats('out.logits', out.logits, V, `vocabulary has ${V} tokens`);
    if (o.state && o.logits && o.state.buffer === o.logits.buffer) {
      const a0 = o.state.byteOffset, a1 = a0 + o.state.byteLength, b0 = o.logits.byteOffset, b1 = b0 + o.logits.byteLength;
      if (a0 < b1 && b0 < a1) throw new RangeError('out.state and out.logits overlap: they must be separate memory');
    }
    return this._native.eval(ids, s, true, o);
  }

  tokenize(text) {
    return Array.from(this.tokenizer.encode(text));
  }

  detokenize(tokens) {
    return this.tokenizer.decode(tokens);
  }

  /** Completion, RWKV-cpp-node compatible; see README for every option and result field. */
  async completion(options) {
    this._check();
    const opt = normalizeCompletionOptions(options, this);
    const { value, waitedMs } = await this._queue.run(() => this._generate(opt));
    value.perf.queueIdleTime = waitedMs;
    return value;
  }

  /**
   * Computes and caches the state of a prompt prefix (as completion with max_tokens 0). With
   * {pin: true} the entry is never evicted. Later prompts that start with it skip those tokens.
   */
  async preloadPrompt(prompt, options = {}) {
    if (options === null || typeof options !== 'object') throw check.invalid('options', 'an object', options);
    const pin = options.pin === undefined ? false : check.boolean('pin', options.pin);
    await this.completion({ prompt, max_tokens: 0, pin });
  }

  /** Prefix-cache statistics: {hits, misses, tokensSaved, entries, pinned, bytes}. */
  cacheStats() {
    this._check();
    return this._native.cacheStats();
  }

  /** Empties the prefix cache (pinned entries too). */
  clearCache() {
    this._check();
    this._native.cacheClear();
  }

  /** Batched decoding statistics: {passes, steps}; steps/passes is the average batch. */
  batchStats() {
    this._check();
    return this._native.batchStats();
  }

  /** Tokens evaluated by the engine since setup (cached tokens are not evaluated). */
  tokensEvaluated() {
    this._check();
    return this._native.tokensEvaluated();
  }

  /**
   * Writes a state to a file whose header identifies this model (version, shape, weights hash).
   * @param {{tokenCount?: number, tokens?: number[]}} [meta]
   */
  async saveState(state, path, meta = {}) {
    this._check();
    check.state('state', state, this._info.stateSize);
    check.string('path', path);
    writeStateFile(path, state, this._info, this._native.fingerprint(), meta);
  }

  /**
   * The initial state from a state-tuning file (.pth or safetensors with blocks.N.att.time_state),
   * to pass as initState.
   */
  async loadStateTuning(path) {
    this._check();
    check.string('path', path);
    return stateFromTuning(path, this._info).state;
  }

  /** Reads a state written by saveState; a state made for another model is refused (E_STATE_MISMATCH). */
  async loadState(path) {
    this._check();
    check.string('path', path);
    return readStateFile(path, this._info, this._native.fingerprint());
  }

  /**
   * Streams completion text: `for await (const chunk of model.stream({prompt}))`. Breaking out of the
   * loop aborts the generation. The same options as completion().
   */
  stream(options) {
    const base = typeof options === 'string' ? { prompt: options } : { ...options };
    const controller = new AbortController();
    const outer = base.signal;
    if (outer) outer.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
    const chunks = [];
    let wake = null, done = false, failure = null;
    const notify = () => { if (wake) { wake(); wake = null; } };
    delete base.streamCallback; delete base.onTextChunk; delete base.stream_callback;
    const run = this.completion({ ...base, signal: controller.signal, stopOnAbortSignal: true, onTextChunk: (c) => { chunks.push(c); notify(); } })
      .then((r) => { done = true; notify(); return r; }, (e) => { failure = e; done = true; notify(); });
    return {
      result: run,
      [Symbol.asyncIterator]() { return this; },
      async next() {
        for (;;) {
          if (chunks.length) return { value: chunks.shift(), done: false };
          if (failure) throw failure;
          if (done) return { value: undefined, done: true };
          await new Promise((r) => { wake = r; });
        }
      },
      async return() {
        controller.abort();
        await run;
        return { value: undefined, done: true };
      },
    };
  }

  /** @private */
  async _generate(opt) {
    this._check();
    const t0 = performance.now();
    const promptTokens = opt.tokens || this._tokenizer.encode(opt.prompt);
    if (opt.signal && opt.signal.aborted) return this._abortResult(opt, promptTokens, t0);
    let states = null, mixWeights = null;
    if (opt.mix) {
      states = opt.mix.map((m) => m.state || this._native.initState());
      mixWeights = Float32Array.from(opt.mix.map((m) => m.weight));
    } else if (opt.initState) {
      states = [opt.initState];
    }
    let full = '';
    const job = this._native.generate(
      this._tokenizer._native,
      promptTokens,
      states,
      {
        temperature: opt.temperature, topP: opt.topP, topK: opt.topK, minP: opt.minP,
        presencePenalty: opt.presencePenalty, frequencyPenalty: opt.frequencyPenalty, penaltyDecay: opt.penaltyDecay,
        seed: opt.seed, bannedTokens: opt.bannedTokens, biasTokens: opt.biasTokens, biasValues: opt.biasValues,
        maxTokens: opt.maxTokens, batchSize: opt.batchSize, stop: opt.stop, stopTokens: opt.stopTokens,
        mixWeights, useCache: opt.cache, pinPrompt: opt.pin,
      },
      opt.onTextChunk ? (chunk) => {
        full += chunk;
        opt.onTextChunk(chunk, full);
      } : null,
    );
    const onAbort = () => job.abort();
    if (opt.signal) opt.signal.addEventListener('abort', onAbort, { once: true });
    let r;
    try {
      r = await job.promise;
    } finally {
      if (opt.signal) opt.signal.removeEventListener('abort', onAbort);
    }
    if (r.finishReason === 'abort' && !opt.stopOnAbortSignal) throw abortError(opt.signal);
    return this._result(opt, promptTokens.length, r, t0);
  }

  /** @private */
  _abortResult(opt, promptTokens, t0) {
    if (!opt.stopOnAbortSignal) throw abortError(opt.signal);
    return this._result(opt, promptTokens.length, { text: '', tokens: new Uint32Array(0), finishReason: 'abort', promptTokensCached: 0, promptTokensEvaluated: 0, promptMs: 0, completionMs: 0, states: [] }, t0);
  }

  /** @private */
  _result(opt, promptCount, r, t0) {
    const completionTokens = r.tokens.length;
    const cached = r.promptTokensCached;
    const uncached = promptCount - cached;
    const per = (ms, n) => (n > 0 ? ms / n : 0);
    const rate = (ms, n) => (ms > 0 ? (1000 * n) / ms : 0);
    const result = {
      prompt: opt.prompt,
      completion: r.text,
      finishReason: r.finishReason,
      usage: { promptTokens: promptCount, completionTokens, totalTokens: promptCount + completionTokens, promptTokensCached: cached, promptTokensEvaluated: r.promptTokensEvaluated },
      perf: {
        queueIdleTime: 0,
        promptTime: r.promptMs,
        completionTime: r.completionMs,
        totalTime: performance.now() - t0,
        timePerPrompt: per(r.promptMs, uncached),
        timePerCompletion: per(r.completionMs, completionTokens),
        timePerFullPrompt: per(r.promptMs, promptCount),
        promptPerSecond: rate(r.promptMs, uncached),
        completionPerSecond: rate(r.completionMs, completionTokens),
        fullPromptPerSecond: rate(r.promptMs, promptCount),
      },
    };
    if (opt.returnState) {
      result.state = r.states[0] || null;
      // What the state includes: the prompt and this much of the completion (all of it, unless a stop
      // string was cut from the middle of a token).
      result.stateCompletion = Buffer.from(r.text).subarray(0, r.stateTextLength).toString();
      if (opt.mix) result.states = r.states;
    }
    return result;
  }

  /** Completions running now (RWKV-cpp-node). */
  activeWorkCount() {
    return this._queue.active;
  }

  /** Completions waiting for a free slot (RWKV-cpp-node). */
  pendingWorkCount() {
    return this._queue.pending;
  }

  /** Releases the model; later calls fail with a clear error. Work in flight finishes first. */
  async free() {
    if (this._native) this._native.free();
    this._native = null;
    this._freed = true;
  }

  dispose() {
    return this.free();
  }

  async [Symbol.asyncDispose]() {
    await this.free();
  }

  /**
   * Quantizes an FP32/FP16 rwkv.cpp .bin file to Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0 (rwkv.cpp-compatible).
   * @param {{onProgress?: (fraction: number) => void}} [options]
   */
  static async quantize(inPath, outPath, type, options = {}) {
    check.string('inPath', inPath);
    check.string('outPath', outPath);
    check.string('type', type);
    const t = type.toUpperCase();
    if (!['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0'].includes(t)) throw new RangeError(`type must be one of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; got ${type}`);
    if (options.onProgress !== undefined) check.func('onProgress', options.onProgress);
    if (!fs.existsSync(inPath)) throw new RwkvError(`cannot quantize: ${inPath} does not exist`, 'E_IO');
    await addon.quantize(inPath, outPath, t, options.onProgress);
  }

  /**
   * Writes a random-weight RWKV-7 model of a real shape ('0.1B', '0.4B', '1.5B', '2.9B', '7B'),
   * deterministic from `seed`, for measuring hardware without a download. Its text is noise.
   * `gguf`: also write the same weights as a GGUF file in llama.cpp's layout, in the same type where
   * ggml has it (the quantized types share rwkv.cpp's blocks byte for byte), else FP16.
   * @param {{type?: string, seed?: number, gguf?: string, vocab?: string, onProgress?: (f: number) => void}} [options]
   */
  static async makeSynthetic(size, outPath, options = {}) {
    const sizes = ['0.1B', '0.4B', '1.5B', '2.9B', '7B'];
    if (!sizes.includes(size)) throw new RangeError(`size must be one of ${sizes.join(', ')}; got ${size}`);
    check.string('outPath', outPath);
    const type = (options.type || 'FP16').toUpperCase();
    if (!['FP32', 'FP16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0'].includes(type)) throw new RangeError(`type must be FP32, FP16, Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0; got ${options.type}`);
    const seed = options.seed === undefined ? 42 : check.number('seed', options.seed, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
    await addon.makeSynthetic(size, outPath, type, seed, options.gguf || null, options.vocab || null, options.onProgress);
  }

  /** Vulkan devices: [{index, name, type, memory, usable, whyNot}] (empty without Vulkan). */
  static gpuDevices() {
    const list = addon.gpuDevices();
    return Array.from(list);
  }

  static systemInfo() {
    return { ...addon.systemInfo(), cpus: os.cpus().length };
  }
}

function abortError(signal) {
  if (signal && signal.reason !== undefined) return signal.reason;
  const e = new RwkvError('The completion was aborted', 'E_ABORT');
  e.name = 'AbortError';
  return e;
}

RWKV.Tokenizer = Tokenizer;
RWKV.RwkvError = RwkvError;

module.exports = { RWKV };
