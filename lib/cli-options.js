'use strict';
// Flag parsers and the option groups several commands share. Parsers throw commander's
// InvalidArgumentError, which bin/rwkv-node.js turns into a usage error (exit 2).
const { InvalidArgumentError, Option } = require('commander');

function parseThreads(v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError(`threads must be a whole number from 1 to 1024, got "${v}"`);
  return n;
}

/** Layers ("12") or a percentage of the layers ("50%"), as RWKV-cpp-node's --gpu. */
function parseGpu(v) {
  const s = String(v).trim();
  if (s === 'auto' || s === 'max') return s;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (m && Number(m[1]) <= 100) return `${m[1]}%`;
  if (/^\d+$/.test(s)) return Number(s);
  throw new InvalidArgumentError(`--gpu takes a number of layers (e.g. 12), a percentage (e.g. 50%), 'auto' or 'max', got "${v}"`);
}

/** Concurrent completions: a whole number from 1 to 1024, or 'auto'. */
function parseConcurrent(v) {
  if (String(v).trim() === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError(`concurrent must be a whole number from 1 to 1024 or 'auto', got "${v}"`);
  return n;
}

/** A number parser with a range, for sampling flags. */
function number(name, { min = -Infinity, max = Infinity, integer = false } = {}) {
  return (v) => {
    const n = Number(v);
    if (v === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      const range = `${integer ? 'a whole number' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` and <= ${max}` : ''}`;
      throw new InvalidArgumentError(`${name} must be ${range}, got "${v}"`);
    }
    return n;
  };
}

/** --modelPath and the load settings every model command takes (A.10 names kept). */
function addModelOptions(cmd) {
  return cmd
    .addOption(new Option('-m, --modelPath <file>', 'model file (.bin); default: the one in ~/.rwkv/config.json'))
    .option('--threads <n>', 'CPU threads (default: config.json, else the library default)', parseThreads)
    .option('--gpu <layers|n%>', 'layers to offload to the GPU, or a percentage such as 50%', parseGpu)
    .option('--tokenizer <path|world|neox|bytes>', 'tokenizer vocabulary file or kind (default: from the vocabulary size)');
}

/** Sampling flags in node-llama-cpp's camelCase spelling. */
function addSamplingOptions(cmd, defaults = {}) {
  return cmd
    .option('-t, --temperature <n>', 'sampling temperature; 0 is greedy', number('temperature', { min: 0, max: 100 }), defaults.temperature)
    .option('-p, --topP <n>', 'nucleus sampling threshold', number('topP', { min: 0, max: 1 }), defaults.topP)
    .option('-k, --topK <n>', 'keep only the k most likely tokens (0 = off)', number('topK', { min: 0, integer: true }), defaults.topK)
    .option('--presencePenalty <n>', 'penalty for tokens already generated', number('presencePenalty', { min: -100, max: 100 }), defaults.presencePenalty)
    .option('--frequencyPenalty <n>', 'penalty growing with each repetition', number('frequencyPenalty', { min: -100, max: 100 }), defaults.frequencyPenalty)
    .option('--seed <n>', 'random seed, for repeatable output', number('seed', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }));
}

/** Sampling flags as completion() options (undefined ones dropped, so library defaults apply). */
function samplingFromOptions(o) {
  const out = {};
  for (const k of ['temperature', 'topP', 'topK', 'presencePenalty', 'frequencyPenalty', 'seed']) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

module.exports = { parseThreads, parseGpu, parseConcurrent, number, addModelOptions, addSamplingOptions, samplingFromOptions };
