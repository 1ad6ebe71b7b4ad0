#!/usr/bin/env node
// The HTTP server under load: N clients each streaming one completion from `rwkv-node serve` (a child
// process, as a deployment runs it), against the same N completions called on the library directly in
// this process, the two interleaved round by round. Shows what the HTTP layer costs and that concurrent
// requests are batched: aggregate tokens/s and time to the first token.
//   node tools/bench-serve.js [--size 0.1B] [--type Q8_0] [--streams 1,4,8,16] [--tokens 64] [--rounds 3] [--write]
// --write updates the "HTTP server" section of BENCHMARKS.md.
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const { spawn } = require('child_process');
const { writeBenchSection } = require('./bench-section');
const RWKV = require('..');

const args = process.argv.slice(2);
const arg = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const size = arg('size', '0.1B');
const type = arg('type', 'Q8_0');
const streamCounts = arg('streams', '1,4,8,16').split(',').map(Number);
const tokens = Number(arg('tokens', '64'));
const rounds = Number(arg('rounds', '3'));
const threads = Number(arg('threads', '2'));
const root = path.join(__dirname, '..');
const shared = process.env.RWKV_SHARED_DIR || path.join(root, '..', 'shared');
const vocab = process.env.RWKV_VOCAB || path.join(shared, 'vocab', 'rwkv_vocab_v20230424.txt');
const maxStreams = Math.max(...streamCounts);
const median = (xs) => { const v = [...xs].sort((a, b) => a - b); return v.length ? v[(v.length - 1) >> 1] : NaN; };

function startServer(file) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'rwkv-node.js'), 'serve', file, '--port', '0', '--threads', String(threads),
    '--concurrent', String(maxStreams), '--tokenizer', vocab, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = /at (http:\/\/[^ ]+)\/v1 /.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('close', (code) => reject(new Error(`rwkv-node serve exited ${code}: ${err}`)));
  });
}

/** One streamed completion over HTTP: resolves to {tokens, firstMs, endMs} (times from `t0`). */
function httpCompletion(url, body, t0) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let buf = '', firstMs = null, usage = null;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        if (firstMs === null) firstMs = performance.now() - t0;
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (event.startsWith('data: {')) {
            const e = JSON.parse(event.slice(6));
            if (e.usage) usage = e.usage;
          }
        }
      });
      res.on('end', () => (usage ? resolve({ tokens: usage.completion_tokens, firstMs, endMs: performance.now() - t0 }) : reject(new Error(`no usage in the stream (${res.statusCode}): ${buf.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function directCompletion(model, body, t0) {
  let firstMs = null;
  return model.completion({ prompt: body.prompt, max_tokens: body.max_tokens, temperature: body.temperature, seed: body.seed,
    onTextChunk: () => { if (firstMs === null) firstMs = performance.now() - t0; } })
    .then((r) => ({ tokens: r.usage.completionTokens, firstMs, endMs: performance.now() - t0 }));
}

async function main() {
  const dir = path.join(root, 'bench-out', 'models');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `synthetic-${size}-${type}.bin`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`writing ${file}\n`);
    await RWKV.makeSynthetic(size, file, { type, seed: 42 });
  }
  const { child, url } = await startServer(file);
  // The prefix cache off in this process too: every request evaluates its whole prompt, as over HTTP
  // (each prompt differs, so the server's cache does not serve them either).
  const model = await new RWKV({ path: file, threads, concurrent: maxStreams, stateCacheSize: 0, tokenizer: vocab }).setup();
  const results = new Map();
  const run = async (mode, n, round) => {
    const t0 = performance.now();
    const bodies = Array.from({ length: n }, (_, i) => ({ prompt: `Request ${round}.${i}: tell me`, max_tokens: tokens, temperature: 1, seed: 1000 * (round + 1) + i, stream: true, stream_options: { include_usage: true } }));
    const done = await Promise.all(bodies.map((b) => (mode === 'http' ? httpCompletion(url, b, t0) : directCompletion(model, b, t0))));
    const key = `${mode}/${n}`;
    if (!results.has(key)) results.set(key, { rate: [], first: [] });
    const r = results.get(key);
    r.rate.push(done.reduce((s, d) => s + d.tokens, 0) / (Math.max(...done.map((d) => d.endMs)) / 1000));
    r.first.push(median(done.map((d) => d.firstMs)));
  };
  try {
    await run('http', 1, -1); // warm-up: the pages of both copies, the server's first request
    await run('direct', 1, -1);
    results.clear();
    for (let round = 0; round < rounds; round++) {
      for (const n of streamCounts) {
        await run('http', n, round);
        await run('direct', n, round);
      }
    }
  } finally {
    child.kill('SIGINT');
    await model.free();
  }
  const rows = streamCounts.map((n) => {
    const h = results.get(`http/${n}`), d = results.get(`direct/${n}`);
    return { n, http: median(h.rate), direct: median(d.rate), firstHttp: median(h.first), firstDirect: median(d.first) };
  });
  const one = rows.find((r) => r.n === 1);
  const table = [
    `Synthetic RWKV-7 ${size} ${type}, ${threads} threads, ${tokens} tokens a request, sampled (temperature 1), prompts of ~6 tokens; ${rounds} rounds, each running every count over HTTP and then directly; medians over the rounds.`,
    '*Aggregate*: the completion tokens of all N requests ÷ the wall time from sending the first to the end of the last (prompts included). *First token*: the median over the N requests of the time to their first streamed text.',
    '',
    '| concurrent requests | over HTTP: tok/s (aggregate) | vs 1 request | library directly: tok/s | HTTP ÷ direct | first token, HTTP (ms) | first token, direct (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.n} | ${r.http.toFixed(1)} | ${one ? (r.http / one.http).toFixed(2) + '×' : '–'} | ${r.direct.toFixed(1)} | ${(100 * r.http / r.direct).toFixed(0)}% | ${r.firstHttp.toFixed(1)} | ${r.firstDirect.toFixed(1)} |`),
  ].join('\n');
  console.log(table);
  if (args.includes('--write')) {
    writeBenchSection(root, 'serve', 'HTTP server (`rwkv-node serve`) under concurrent requests',
      `node tools/bench-serve.js --size ${size} --type ${type} --streams ${streamCounts.join(',')} --tokens ${tokens} --rounds ${rounds} --write`, table);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
