'use strict';
// `rwkv-node info`, `quantize` and `make-synthetic`: small commands around one library call each.
const fs = require('fs');
const path = require('path');
const { openModel } = require('./cli-model');
const { fractionBar, formatBytes } = require('./cli-bar');

function printGpuDevices(opts) {
  const { RWKV } = require('./rwkv');
  const devices = RWKV.gpuDevices();
  if (opts.json) {
    process.stdout.write(JSON.stringify(devices) + '\n');
    return;
  }
  if (devices.length === 0) process.stdout.write('No Vulkan devices (is a Vulkan driver installed?)\n');
  for (const d of devices) {
    const note = d.usable ? (d.type === 'cpu' ? ' (software: used only with RWKV_VULKAN_ALLOW_CPU=1)' : '') : ` (not usable: ${d.whyNot})`;
    process.stdout.write(`${d.index}: ${d.name}, ${d.type}, ${formatBytes(d.memory)}${note}\n`);
  }
}

async function runInfo(file, opts) {
  if (!file) {
    if (opts.gpu === true || opts.gpu !== undefined) return printGpuDevices(opts);
    throw Object.assign(new Error('info needs a model file (or --gpu to list GPUs)'), { exitCode: 2 });
  }
  if (opts.gpu === true) opts = { ...opts, gpu: 'auto' };
  const model = await openModel({ ...opts, modelPath: file }, { quiet: true });
  try {
    const i = model.info;
    const stateBytes = i.stateSize * 4;
    const record = {
      file: path.resolve(file), version: i.version, dataType: i.dataType, fileBytes: i.fileBytes, params: i.params,
      nLayer: i.nLayer, nEmbd: i.nEmbd, nHead: i.nHead, headSize: i.headSize, ffnSize: i.ffnSize, nVocab: i.nVocab,
      tokenizer: i.tokenizer, stateSize: i.stateSize, stateBytes,
      // Weights are memory-mapped in their stored type; add one state, the logits and the runtime.
      memoryNeeded: i.fileBytes + stateBytes + i.nVocab * 4 + 64 * 2 ** 20,
      gpuOffload: model.gpuOffload || 0,
      gpuLayers: i.gpuLayers, gpuDevice: i.gpuDevice, gpuMemory: i.gpuMemory, gpuDecode: i.gpuDecode,
    };
    if (opts.json) {
      process.stdout.write(JSON.stringify(record) + '\n');
      return;
    }
    const rows = [
      ['file', record.file],
      ['version', `RWKV-${i.version}`],
      ['data type', i.dataType],
      ['file size', `${formatBytes(i.fileBytes)} (${i.fileBytes} bytes)`],
      ['parameters', `${(i.params / 1e6).toFixed(2)} M`],
      ['shape', `${i.nLayer} layers, embedding ${i.nEmbd}, ${i.nHead} heads of ${i.headSize}, FFN ${i.ffnSize}`],
      ['vocabulary', `${i.nVocab} tokens (${i.tokenizer} tokenizer)`],
      ['state', `${i.stateSize} floats (${formatBytes(stateBytes)}) per sequence`],
      ['memory needed', `~${formatBytes(record.memoryNeeded)}`],
    ];
    if (opts.gpu !== undefined) {
      rows.push(['GPU offload', i.gpuLayers > 0 ? `${i.gpuLayers} of ${i.nLayer} layers on ${i.gpuDevice} (${formatBytes(i.gpuMemory)} of weights; decode: ${i.gpuDecode === 'persistent' ? 'one persistent dispatch a token' : 'a dispatch per op'})` : `none (asked for ${opts.gpu}; see the warning above)`]);
    }
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(14)} ${v}\n`);
  } finally {
    await model.free();
  }
}

async function runQuantize(input, output, type, opts) {
  const { RWKV } = require('./rwkv');
  if (fs.existsSync(output) && !opts.force) throw new Error(`${output} already exists; pass --force to overwrite it`);
  const bar = fractionBar(`Quantizing to ${type.toUpperCase()}`);
  try {
    await RWKV.quantize(input, output, type, { onProgress: (f) => bar.update(f) });
  } finally {
    bar.stop();
  }
  process.stderr.write(`Wrote ${output} (${formatBytes(fs.statSync(output).size)}; was ${formatBytes(fs.statSync(input).size)})\n`);
}

async function runMakeSynthetic(size, output, opts) {
  const { RWKV } = require('./rwkv');
  const bar = fractionBar(`Writing a synthetic ${size} model`);
  try {
    await RWKV.makeSynthetic(size, output, { type: opts.type, seed: opts.seed, gguf: opts.gguf, vocab: opts.vocab, onProgress: (f) => bar.update(f) });
  } finally {
    bar.stop();
  }
  process.stderr.write(`Wrote ${output} (${formatBytes(fs.statSync(output).size)}): random weights, for benchmarks only\n`);
}

module.exports = { runInfo, runQuantize, runMakeSynthetic };
