'use strict';
// `rwkv-node --dragon [--size N]`: RWKV-cpp-node's benchmark, same prompt and output, plus --json
// (a machine-readable record) and --synthetic <size> (random weights of a real RWKV-7 shape).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { openModel } = require('./cli-model');
const { samplingFromOptions } = require('./cli-options');
const { fractionBar } = require('./cli-bar');
const { InterruptedError } = require('./cli-errors');

// The exact prompt of RWKV-cpp-node (note the leading newline).
const DRAGON_PROMPT = '\nIn a shocking finding, scientist discovered a herd of dragons living in a remote, previously unexplored valley, in Tibet. Even more surprising to the researchers was the fact that the dragons spoke perfect Chinese.';

/** The World vocabulary for a synthetic model: RWKV_VOCAB, else ~/.rwkv; null if neither has it. */
function findWorldVocab() {
  const { rwkvHome } = require('./cli-config');
  const candidates = [process.env.RWKV_VOCAB, path.join(rwkvHome(), 'rwkv_vocab_v20230424.txt')].filter(Boolean);
  return candidates.find((p) => fs.existsSync(p)) || null;
}

/** Writes a synthetic model to a temp file; resolves to {file, cleanup}. */
async function makeSyntheticModel(size, opts) {
  const { RWKV } = require('./rwkv');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-synthetic-'));
  const file = path.join(dir, `synthetic-${size}-${(opts.type || 'Q8_0').toUpperCase()}.bin`);
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  const bar = opts.json ? { update() {}, stop() {} } : fractionBar(`Writing a synthetic ${size} model`);
  try {
    await RWKV.makeSynthetic(size, file, { type: opts.type || 'Q8_0', seed: opts.seed ?? 42, onProgress: (f) => bar.update(f) });
  } catch (err) {
    cleanup();
    throw err;
  } finally {
    bar.stop();
  }
  return { file, cleanup };
}

function machineInfo(model) {
  const { RWKV } = require('./rwkv');
  const cpus = os.cpus();
  let sys = {};
  try {
    sys = RWKV.systemInfo();
  } catch {}
  return {
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown', cores: cpus.length, memoryBytes: os.totalmem(),
    platform: process.platform, arch: process.arch, node: process.version, engine: sys,
    gpu: model.gpuOffload ? { offload: model.gpuOffload, devices: sys.gpus || sys.gpu || null } : null,
  };
}

async function runDragon(opts) {
  const size = opts.size ?? 1000;
  let synthetic = null;
  let tokenizer, bannedTokens;
  if (opts.synthetic) {
    synthetic = await makeSyntheticModel(opts.synthetic, opts);
    opts = { ...opts, modelPath: synthetic.file };
    // Synthetic models have a 65536-token vocabulary. With the World vocabulary the prompt is
    // tokenized as a real model's would be; without it the prompt is fed as byte ids and sampling is
    // limited to ids < 256. The cost per token does not depend on which ids they are.
    const vocab = findWorldVocab();
    if (vocab) tokenizer = vocab;
    else {
      tokenizer = 'bytes';
      bannedTokens = Array.from({ length: 65536 - 256 }, (_, i) => 256 + i);
    }
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  let model;
  try {
    model = await openModel(opts, { quiet: opts.json, tokenizer });
    const out = process.stdout;
    if (!opts.json) {
      if (synthetic) {
        out.write(`Synthetic ${opts.synthetic} model (random weights): the text below is noise; only the timings mean something.\n`);
        if (bannedTokens) out.write('No World vocabulary found (set RWKV_VOCAB or run --setup): the prompt is fed as byte ids, so it counts more tokens.\n');
      }
      console.log(`Running the test dragon prompt: ${DRAGON_PROMPT}`);
    }
    const res = await model.completion({
      prompt: DRAGON_PROMPT, max_tokens: size, ...samplingFromOptions(opts), signal: controller.signal,
      ...(bannedTokens ? { bannedTokens } : {}),
      streamCallback: opts.json ? undefined : (chunk) => out.write(chunk),
    });
    if (opts.json) out.write(JSON.stringify(record(model, opts, size, res, synthetic)) + '\n');
    else {
      out.write('\n--------------------------------------------------\n');
      out.write(`RWKV perf stats: ${JSON.stringify(res.perf)}\n`);
    }
    if (res.finishReason === 'abort') throw new InterruptedError('benchmark interrupted');
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (model) await model.free();
    if (synthetic) synthetic.cleanup();
  }
}

function record(model, opts, size, res, synthetic) {
  const i = model.info;
  return {
    tool: 'rwkv-node', toolVersion: require('../package.json').version, date: new Date().toISOString(),
    machine: machineInfo(model),
    model: {
      file: synthetic ? null : i.path, synthetic: synthetic ? opts.synthetic : null, version: i.version, dataType: i.dataType,
      fileBytes: i.fileBytes, params: i.params, nLayer: i.nLayer, nEmbd: i.nEmbd, nVocab: i.nVocab, tokenizer: i.tokenizer,
    },
    settings: { size, threads: i.threads, gpuOffload: model.gpuOffload || 0, batchSize: model.batchSize, ...samplingFromOptions(opts) },
    results: {
      promptTokens: res.usage.promptTokens, completionTokens: res.usage.completionTokens,
      promptTokensPerSecond: res.perf.promptPerSecond, decodeTokensPerSecond: res.perf.completionPerSecond,
      msPerToken: res.perf.timePerCompletion, promptMs: res.perf.promptTime, decodeMs: res.perf.completionTime, totalMs: res.perf.totalTime,
      finishReason: res.finishReason,
    },
    perf: res.perf,
    text: res.completion,
  };
}

module.exports = { runDragon, makeSyntheticModel, DRAGON_PROMPT };
