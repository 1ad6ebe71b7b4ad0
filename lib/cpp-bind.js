'use strict';
// RWKV-cpp-node's low-level binding, `RWKV.cpp_bind`: rwkv.cpp's C API under its own names, served by
// this engine. As there, `RWKV.cpp_bind` is the promise variant (rwkv_get_n_vocab left synchronous);
// `cpp_bind.sync` has the synchronous functions, each also callable as koffi's `fn.async(...args,
// (err, result) => {})`. A context is an opaque object to pass back; failures return null or false and
// print the reason to stderr, as rwkv.cpp does.
//
// What differs, by design: any rwkv.cpp file version this engine reads loads (RWKV v4 to v7; FP32, FP16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0); a clone shares its parent's weights and its calls run one at a time on
// the model's threads (n_threads of a clone is ignored); rwkv_gpu_offload_layers reloads the model with
// that many layers on a Vulkan GPU (memory-mapped, so quickly) and returns false where no GPU is usable.
const path = require('path');
const addon = require('./binding');

const CONTEXT = Symbol('rwkv.cpp context');

function report(fn, err) {
  process.stderr.write(`${fn}: ${err && err.message ? err.message : err}\n`);
}

/** The shared model behind a context and its clones (rwkv_gpu_offload_layers swaps it for all). */
function contextOf(ctx, fn) {
  const c = ctx && ctx[CONTEXT];
  if (!c) throw new TypeError(`${fn}: the first argument must be a context from rwkv_init_from_file or rwkv_clone_context`);
  if (c.freed) throw new TypeError(`${fn}: this context was freed with rwkv_free`);
  return c;
}

function makeContext(shared) {
  shared.refs++;
  const c = { shared, freed: false };
  const ctx = Object.freeze({ [CONTEXT]: c });
  return ctx;
}

// The first n token ids as a Uint32Array, each checked against the vocabulary here, before anything is
// written: the evaluation then works in stateOut itself, and a call with a bad id leaves it as it was.
function toUint32(tokens, n, fn, nVocab) {
  const len = n === undefined ? tokens.length : Number(n);
  if (!Number.isInteger(len) || len < 0 || len > tokens.length) throw new RangeError(`${fn}: sequence_len ${n} is not within the ${tokens.length} tokens given`);
  const out = tokens instanceof Uint32Array ? tokens.subarray(0, len) : new Uint32Array(len);
  for (let i = 0; i < len; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= nVocab) throw new RangeError(`${fn}: token id ${t} at position ${i} is out of range: this model's vocabulary has ${nVocab} tokens`);
    out[i] = t;
  }
  return out;
}

// ids(nVocab): the checked token ids (toUint32; what it throws is a failure like the evaluation's own).
function evalTokens(fn, ctx, ids, stateIn, stateOut, logitsOut) {
  const c = contextOf(ctx, fn);
  try {
    c.shared.native.evalSync(ids(c.shared.info.nVocab), stateIn || null, stateOut, logitsOut || null);
    return true;
  } catch (err) {
    report(fn, err);
    return false;
  }
}

const getter = (fn, key) => (ctx) => contextOf(ctx, fn).shared.info[key];

const api = {
  rwkv_init_from_file(filePath, nThreads) {
    try {
      const threads = Number(nThreads) > 0 ? Math.floor(Number(nThreads)) : 0;
      const native = addon.loadModel(String(filePath), { threads, cacheEntries: 0, sync: true });
      return makeContext({ native, info: native.info(), path: String(filePath), threads, refs: 0 });
    } catch (err) {
      report('rwkv_init_from_file', err);
      return null;
    }
  },
  rwkv_clone_context(ctx /* , nThreads: the clone shares its parent's threads */) {
    return makeContext(contextOf(ctx, 'rwkv_clone_context').shared);
  },
  rwkv_gpu_offload_layers(ctx, nLayers) {
    const c = contextOf(ctx, 'rwkv_gpu_offload_layers');
    const n = Math.floor(Number(nLayers));
    if (!(n > 0)) return false;
    try {
      const native = addon.loadModel(c.shared.path, { threads: c.shared.threads, cacheEntries: 0, gpuLayers: n, sync: true });
      const info = native.info();
      if (!(info.gpuLayers > 0)) {
        native.free();
        return false;
      }
      c.shared.native.free();
      c.shared.native = native;
      c.shared.info = info;
      return true;
    } catch (err) {
      report('rwkv_gpu_offload_layers', err);
      return false;
    }
  },
  rwkv_get_n_vocab: getter('rwkv_get_n_vocab', 'nVocab'),
  rwkv_get_n_embed: getter('rwkv_get_n_embed', 'nEmbd'),
  rwkv_get_n_layer: getter('rwkv_get_n_layer', 'nLayer'),
  rwkv_get_state_len: getter('rwkv_get_state_len', 'stateSize'),
  rwkv_get_logits_len: getter('rwkv_get_logits_len', 'nVocab'),
  rwkv_eval(ctx, token, stateIn, stateOut, logitsOut) {
    return evalTokens('rwkv_eval', ctx, (v) => toUint32([token], 1, 'rwkv_eval', v), stateIn, stateOut, logitsOut);
  },
  rwkv_eval_sequence(ctx, tokens, sequenceLen, stateIn, stateOut, logitsOut) {
    return evalTokens('rwkv_eval_sequence', ctx, (v) => toUint32(tokens, sequenceLen, 'rwkv_eval_sequence', v), stateIn, stateOut, logitsOut);
  },
  rwkv_quantize_model_file(inPath, outPath, formatName) {
    try {
      addon.quantize(String(inPath), String(outPath), String(formatName), undefined, true);
      return true;
    } catch (err) {
      report('rwkv_quantize_model_file', err);
      return false;
    }
  },
  rwkv_free(ctx) {
    const c = contextOf(ctx, 'rwkv_free');
    c.freed = true;
    if (--c.shared.refs === 0) c.shared.native.free();
  },
};

// Promise versions: loading, evaluation and quantizing run off Node's main thread (the engine's own async
// paths; evaluation writes into the caller's arrays on the model's home thread); the rest settle at once.
const asyncApi = {
  async rwkv_init_from_file(filePath, nThreads) {
    try {
      const threads = Number(nThreads) > 0 ? Math.floor(Number(nThreads)) : 0;
      const native = await addon.loadModel(String(filePath), { threads, cacheEntries: 0 });
      return makeContext({ native, info: native.info(), path: String(filePath), threads, refs: 0 });
    } catch (err) {
      report('rwkv_init_from_file', err);
      return null;
    }
  },
  async rwkv_eval(ctx, token, stateIn, stateOut, logitsOut) {
    return evalTokensAsync('rwkv_eval', ctx, (v) => toUint32([token], 1, 'rwkv_eval', v), stateIn, stateOut, logitsOut);
  },
  async rwkv_eval_sequence(ctx, tokens, sequenceLen, stateIn, stateOut, logitsOut) {
    return evalTokensAsync('rwkv_eval_sequence', ctx, (v) => toUint32(tokens, sequenceLen, 'rwkv_eval_sequence', v), stateIn, stateOut, logitsOut);
  },
  async rwkv_quantize_model_file(inPath, outPath, formatName) {
    try {
      await addon.quantize(String(inPath), String(outPath), String(formatName));
      return true;
    } catch (err) {
      report('rwkv_quantize_model_file', err);
      return false;
    }
  },
};

async function evalTokensAsync(fn, ctx, ids, stateIn, stateOut, logitsOut) {
  const c = contextOf(ctx, fn);
  try {
    const { stateSize, nVocab } = c.shared.info;
    const f32 = (a, n) => a instanceof Float32Array && a.length === n;
    if (!f32(stateOut, stateSize)) throw new TypeError(`stateOut must be a Float32Array of ${stateSize} floats`);
    if (stateIn && !f32(stateIn, stateSize)) throw new TypeError(`stateIn must be a Float32Array of ${stateSize} floats`);
    if (logitsOut && !f32(logitsOut, nVocab)) throw new TypeError(`logitsOut must be a Float32Array of ${nVocab} floats`);
    const out = { state: stateOut };
    if (logitsOut) out.logits = logitsOut;
    await c.shared.native.eval(ids(nVocab), stateIn || null, Boolean(logitsOut), out);
    return true;
  } catch (err) {
    report(fn, err);
    return false;
  }
}

// The synchronous functions, each with koffi's fn.async(...args, callback(err, result)) (run after the
// current tick, on the main thread).
const sync = {};
for (const [name, fn] of Object.entries(api)) {
  const wrapped = (...args) => fn(...args);
  wrapped.async = (...args) => {
    const callback = args.pop();
    if (typeof callback !== 'function') throw new TypeError(`${name}.async: the last argument must be a callback (err, result)`);
    setImmediate(() => {
      let result;
      try {
        result = fn(...args);
      } catch (err) {
        callback(err);
        return;
      }
      callback(null, result);
    });
  };
  sync[name] = wrapped;
}

// RWKV.cpp_bind is RWKV-cpp-node's promise variant: every function returns a promise except
// rwkv_get_n_vocab, which RWKV-cpp-node left synchronous (kept so, for code that relies on it). The
// synchronous functions are there too, as cpp_bind.sync.
const cppBind = {};
for (const name of Object.keys(api)) {
  if (name === 'rwkv_get_n_vocab') cppBind[name] = api[name];
  else if (asyncApi[name]) cppBind[name] = asyncApi[name];
  else cppBind[name] = async (...args) => api[name](...args);
}
let libPath = null;
const resolveLib = () => libPath || (libPath = require('node-gyp-build').resolve(path.join(__dirname, '..')));
for (const target of [cppBind, sync]) Object.defineProperty(target, '_libPath', { enumerable: true, get: resolveLib });
cppBind.sync = sync;

module.exports = { cppBind };
