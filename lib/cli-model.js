'use strict';
// Finds and loads the model a command works on: --modelPath / positional path, else config.json's
// model (running the setup first on a terminal, as RWKV-cpp-node did), with threads and GPU offload
// from flags, then config.json.
const fs = require('fs');
const path = require('path');
const { readConfig, configuredModelPath } = require('./cli-config');
const { formatBytes } = require('./cli-bar');

async function resolveModelPath(opts, positional) {
  const given = positional || opts.modelPath;
  if (given) return path.resolve(given);
  const cfg = readConfig();
  const configured = configuredModelPath(cfg);
  if (configured && fs.existsSync(configured)) return configured;
  if (configured) {
    throw new Error(`Model ${configured} (from config.json) not found, you may need to run --setup again (npx rwkv-node --setup), or pass --modelPath <file>`);
  }
  if (process.stdin.isTTY && process.stdout.isTTY) {
    process.stderr.write('No model configured yet: starting the setup.\n');
    const chosen = await require('./cli-setup').runSetup({});
    if (!chosen) throw new Error('no model chosen; run `npx rwkv-node --setup` when you are ready');
    return chosen;
  }
  throw new Error('no model configured: pass --modelPath <file>, or run `npx rwkv-node --setup` (or `rwkv-node pull <id> --yes`) first');
}

/** Loads the model; `quiet` keeps stderr clean (for --json); `config` adds RWKV options (e.g. concurrent). Resolves to a set-up RWKV instance. */
async function openModel(opts, { positional, quiet = false, tokenizer, config: extra = {} } = {}) {
  const { RWKV } = require('./rwkv'); // loaded here so pull/--help work without the addon
  const file = await resolveModelPath(opts, positional);
  const cfg = readConfig();
  const threads = opts.threads ?? cfg.threads;
  const gpuOffload = opts.gpu ?? cfg.gpuOffload;
  const config = { path: file };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) config[k] = v;
  if (threads !== undefined) config.threads = Number(threads);
  if (gpuOffload !== undefined && gpuOffload !== 0 && gpuOffload !== '0') config.gpuOffload = gpuOffload;
  const tok = tokenizer || opts.tokenizer;
  if (tok) config.tokenizer = tok;
  const t0 = Date.now();
  if (!quiet) process.stderr.write(`Loading ${path.basename(file)} ...`);
  const model = new RWKV(config);
  try {
    await model.setup();
  } catch (err) {
    if (!quiet) process.stderr.write(' failed\n');
    throw err;
  }
  const i = model.info;
  if (!quiet) process.stderr.write(` RWKV-${i.version} ${i.dataType}, ${formatBytes(i.fileBytes)}, ${i.threads} threads (${Date.now() - t0} ms)\n`);
  return model;
}

module.exports = { resolveModelPath, openModel };
