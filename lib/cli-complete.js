'use strict';
// `rwkv-node complete`: continue a text (node-llama-cpp's `complete`): the prompt from --prompt,
// --promptFile or stdin, the continuation streamed to stdout, or one JSON record with --json.
const fs = require('fs');
const { openModel } = require('./cli-model');
const { samplingFromOptions } = require('./cli-options');
const { UsageError, InterruptedError } = require('./cli-errors');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function promptOf(opts) {
  if (opts.prompt !== undefined && opts.promptFile !== undefined) throw new UsageError('give --prompt or --promptFile, not both');
  if (opts.prompt !== undefined) return opts.prompt;
  if (opts.promptFile !== undefined) {
    try {
      return fs.readFileSync(opts.promptFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read --promptFile ${opts.promptFile}: ${err.message}`);
    }
  }
  if (process.stdin.isTTY) throw new UsageError('no prompt: pass --prompt <text>, --promptFile <file>, or pipe the text on stdin');
  return readStdin();
}

async function runComplete(positional, opts) {
  const prompt = await promptOf(opts);
  if (prompt === '') throw new UsageError('the prompt is empty');
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  let model;
  try {
    model = await openModel(opts, { positional, quiet: opts.json });
    const out = process.stdout;
    const res = await model.completion({
      prompt, max_tokens: opts.maxTokens, stop: opts.stop, ...samplingFromOptions(opts), signal: controller.signal,
      streamCallback: opts.json ? undefined : (chunk) => out.write(chunk),
    });
    if (opts.json) {
      out.write(`${JSON.stringify({ prompt, completion: res.completion, finishReason: res.finishReason, usage: res.usage, perf: res.perf })}\n`);
    } else {
      out.write('\n');
      if (opts.timing) {
        process.stderr.write(`${res.usage.promptTokens} prompt tokens (${res.usage.promptTokensCached} cached) at ${res.perf.promptPerSecond.toFixed(1)} tok/s, ` +
          `${res.usage.completionTokens} generated at ${res.perf.completionPerSecond.toFixed(1)} tok/s; ${res.finishReason}\n`);
      }
    }
    if (res.finishReason === 'abort') throw new InterruptedError('completion interrupted');
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (model) await model.free();
  }
}

module.exports = { runComplete };
