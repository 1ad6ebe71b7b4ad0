'use strict';
// Normalises completion options: RWKV-cpp-node's snake_case names and node-llama-cpp's camelCase
// aliases, validated with messages that name the option and its allowed range. Unlike
// RWKV-cpp-node, 0 means 0: temperature 0 is greedy and top_p 0 keeps only the top token.
const check = require('./validate');

const DEFAULTS = {
  maxTokens: 64,
  temperature: 1.0,
  topP: 1.0,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  penaltyDecay: 0.996,
};

const ALIASES = {
  max_tokens: 'maxTokens',
  top_p: 'topP',
  top_k: 'topK',
  min_p: 'minP',
  presence_penalty: 'presencePenalty',
  frequency_penalty: 'frequencyPenalty',
  penalty_decay: 'penaltyDecay',
  logit_bias: 'logitBias',
  stop_tokens: 'stopTokens',
  banned_tokens: 'bannedTokens',
  streamCallback: 'onTextChunk',
  stream_callback: 'onTextChunk',
  init_state: 'initState',
  return_state: 'returnState',
  batch_size: 'batchSize',
};

const KNOWN = new Set([
  'prompt', 'maxTokens', 'temperature', 'topP', 'topK', 'minP', 'presencePenalty', 'frequencyPenalty', 'penaltyDecay',
  'logitBias', 'bannedTokens', 'seed', 'stop', 'stopTokens', 'onTextChunk', 'signal', 'stopOnAbortSignal', 'initState',
  'returnState', 'batchSize', 'tokens', 'mix', 'cache', 'pin',
]);

function pick(opt, name) {
  for (const [alias, canonical] of Object.entries(ALIASES)) {
    if (canonical === name && opt[alias] !== undefined) return opt[alias];
  }
  return opt[name];
}

/** @returns the normalised options; throws TypeError/RangeError naming the bad option. */
function normalizeCompletionOptions(input, model) {
  const opt = typeof input === 'string' ? { prompt: input } : input;
  if (opt === null || typeof opt !== 'object') throw check.invalid('completion options', 'a prompt string or an options object', input);
  for (const key of Object.keys(opt)) {
    if (!KNOWN.has(key) && !ALIASES[key]) {
      throw new TypeError(`Unknown completion option "${key}". Known options: ${[...KNOWN].join(', ')} (and snake_case aliases such as max_tokens, top_p)`);
    }
  }
  const { nVocab, stateSize } = model.info;
  const out = {};
  const prompt = opt.prompt;
  if (opt.tokens === undefined && (prompt === undefined || prompt === null || prompt === '')) {
    throw new TypeError('Prompt is required for completion operation');
  }
  out.prompt = prompt === undefined || prompt === null ? '' : check.string('prompt', prompt);
  out.tokens = opt.tokens === undefined ? null : check.tokens('tokens', opt.tokens, nVocab);
  const num = (name, range) => {
    const v = pick(opt, name);
    return v === undefined || v === null ? DEFAULTS[name] : check.number(name, v, range);
  };
  out.maxTokens = num('maxTokens', { min: 0, integer: true });
  out.temperature = num('temperature', { min: 0, max: 100 });
  out.topP = num('topP', { min: 0, max: 1 });
  out.topK = num('topK', { min: 0, max: nVocab, integer: true });
  out.minP = num('minP', { min: 0, max: 1 });
  out.presencePenalty = num('presencePenalty', { min: -100, max: 100 });
  out.frequencyPenalty = num('frequencyPenalty', { min: -100, max: 100 });
  out.penaltyDecay = num('penaltyDecay', { min: 0, max: 1 });
  const seed = pick(opt, 'seed');
  out.seed = seed === undefined || seed === null ? Math.floor(Math.random() * 2 ** 32) : check.number('seed', seed, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });

  const stop = pick(opt, 'stop');
  if (stop === undefined || stop === null) out.stop = [];
  else if (typeof stop === 'string') out.stop = stop === '' ? [] : [stop];
  else if (Array.isArray(stop)) out.stop = stop.map((s, i) => check.string(`stop[${i}]`, s)).filter((s) => s !== '');
  else throw check.invalid('stop', 'a string or an array of strings', stop);
  const stopTokens = pick(opt, 'stopTokens');
  out.stopTokens = stopTokens === undefined ? new Uint32Array(0) : check.tokens('stopTokens', stopTokens, nVocab);
  const banned = pick(opt, 'bannedTokens');
  out.bannedTokens = banned === undefined ? new Uint32Array(0) : check.tokens('bannedTokens', banned, nVocab);

  const bias = pick(opt, 'logitBias');
  const ids = [], vals = [];
  if (bias !== undefined && bias !== null) {
    const entries = bias instanceof Map ? [...bias.entries()] : typeof bias === 'object' ? Object.entries(bias) : null;
    if (!entries) throw check.invalid('logitBias', 'an object or Map of {tokenId: bias}', bias);
    for (const [k, v] of entries) {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new RangeError(`logitBias key ${k} is not a token id below ${nVocab}`);
      ids.push(id);
      vals.push(check.number(`logitBias[${k}]`, v));
    }
  }
  out.biasTokens = Uint32Array.from(ids);
  out.biasValues = Float32Array.from(vals);

  const onText = pick(opt, 'onTextChunk');
  out.onTextChunk = onText === undefined || onText === null ? null : check.func('streamCallback', onText);
  const signal = opt.signal;
  if (signal !== undefined && signal !== null && !(typeof signal === 'object' && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function')) {
    throw check.invalid('signal', 'an AbortSignal', signal);
  }
  out.signal = signal || null;
  out.stopOnAbortSignal = opt.stopOnAbortSignal === undefined ? true : check.boolean('stopOnAbortSignal', opt.stopOnAbortSignal);
  const init = pick(opt, 'initState');
  out.initState = init === undefined || init === null ? null : check.state('initState', init, stateSize);
  out.mix = null;
  if (opt.mix !== undefined && opt.mix !== null) {
    if (!Array.isArray(opt.mix) || opt.mix.length === 0) throw check.invalid('mix', 'a non-empty array of {state, weight}', opt.mix);
    out.mix = opt.mix.map((m, i) => {
      if (m === null || typeof m !== 'object') throw check.invalid(`mix[${i}]`, '{state, weight}', m);
      const state = m.state === undefined || m.state === null ? null : check.state(`mix[${i}].state`, m.state, stateSize);
      const weight = m.weight === undefined ? 1 : check.number(`mix[${i}].weight`, m.weight, { min: 0 });
      return { state, weight };
    });
    if (!out.mix.some((m) => m.weight > 0)) throw new RangeError('mix weights must not all be 0');
    if (out.initState) throw new TypeError('initState and mix cannot be combined: give the initial state as a mix entry');
  }
  out.cache = opt.cache === undefined ? true : check.boolean('cache', opt.cache);
  out.pin = opt.pin === undefined ? false : check.boolean('pin', opt.pin);
  const ret = pick(opt, 'returnState');
  out.returnState = ret === undefined ? false : check.boolean('returnState', ret);
  const batch = pick(opt, 'batchSize');
  out.batchSize = batch === undefined || batch === null ? model.batchSize : check.number('batchSize', batch, { min: 1, max: 4096, integer: true });
  return out;
}

module.exports = { normalizeCompletionOptions, DEFAULTS };
