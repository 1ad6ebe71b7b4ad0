'use strict';
// The CLI driven as a user would: bin/rwkv-node.js as a child process. Downloads go to a local HTTP
// server on 127.0.0.1 (started and closed here) through a catalogue given with RWKV_CATALOG.
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { tiny } = require('./helpers');

const BIN = path.join(__dirname, '..', 'bin', 'rwkv-node.js');
const MODEL = tiny('tiny-rwkv-5v1-730K-FP32');
const MODEL_BYTES = fs.readFileSync(MODEL);
const VOCAB_BYTES = Buffer.from('1 \'a\' 1\n2 \'b\' 1\n');
const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkv-cli-test-'));
let server, base;
const seen = []; // {url, range} of every request

/** Runs the CLI; resolves to {code, signal, stdout, stderr}. `onStderr` may kill it mid-way. */
function run(args, { input, env = {}, onStderr, timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, RWKV_HOME: path.join(tmp, 'home'), RWKV_CATALOG: path.join(tmp, 'catalog.json'), RWKV_MIRROR: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (onStderr) onStderr(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

function serveFile(req, res, body) {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
  if (m) {
    const start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
      return res.end();
    }
    res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    return res.end(body.subarray(start));
  }
  res.writeHead(200, { 'Content-Length': body.length });
  res.end(body);
}

let cutOnce = true;
before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url, range: req.headers.range || null });
    if (req.url === '/vocab.txt') return serveFile(req, res, VOCAB_BYTES);
    if (req.url === '/m/model.bin') return serveFile(req, res, MODEL_BYTES);
    if (req.url === '/cut/model.bin') {
      if (cutOnce && !req.headers.range) {
        // First request: announce the whole file, send a third of it, then drop the connection.
        cutOnce = false;
        res.writeHead(200, { 'Content-Length': MODEL_BYTES.length });
        res.write(MODEL_BYTES.subarray(0, Math.floor(MODEL_BYTES.length / 3)), () => setTimeout(() => res.socket.destroy(), 50));
        return;
      }
      return serveFile(req, res, MODEL_BYTES);
    }
    if (req.url === '/slow/model.bin') {
      // Sends 100 kB, then stalls until the client goes away (the test interrupts it).
      res.writeHead(200, { 'Content-Length': MODEL_BYTES.length });
      res.write(MODEL_BYTES.subarray(0, 100000));
      return;
    }
    res.writeHead(404);
    res.end('not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  const entry = (id, url, extra = {}) => ({ id, label: `test ${id}`, url, file: `${id}.bin`, bytes: MODEL_BYTES.length, bytesExact: true, sha256: sha(MODEL_BYTES), format: 'FP32', vocab: 'world', ...extra });
  fs.writeFileSync(path.join(tmp, 'catalog.json'), JSON.stringify({
    models: [
      entry('good', `${base}/m/model.bin`),
      entry('cut', `${base}/cut/model.bin`),
      entry('badsha', `${base}/m/model.bin`, { sha256: '0'.repeat(64) }),
      entry('missing', `${base}/nothing/model.bin`),
      entry('slow', `${base}/slow/model.bin`),
      entry('hf', 'https://huggingface.co/m/model.bin', { vocab: null }),
    ],
    vocabs: { world: { file: 'rwkv_vocab_v20230424.txt', url: `${base}/vocab.txt`, bytes: VOCAB_BYTES.length, sha256: sha(VOCAB_BYTES) } },
  }));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const dirFor = (name) => path.join(tmp, name);
const files = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

test('pull: a clean download is verified, fetches the vocabulary and writes config.json', async () => {
  const dir = dirFor('clean');
  const r = await run(['pull', 'good', '--yes', '--dir', dir]);
  assert.strictEqual(r.code, 0, r.stderr);
  assert.deepStrictEqual(files(dir), ['good.bin', 'rwkv_vocab_v20230424.txt']);
  assert.ok(fs.readFileSync(path.join(dir, 'good.bin')).equals(MODEL_BYTES));
  assert.match(r.stderr, /SHA-256 verified/);
  const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'home', 'config.json'), 'utf8'));
  assert.strictEqual(cfg.model, path.join(dir, 'good.bin'));
  // A second run finds the file complete and downloads nothing.
  const n = seen.length;
  const again = await run(['--setup', '--model', 'good', '--yes', '--dir', dir]);
  assert.strictEqual(again.code, 0, again.stderr);
  assert.match(again.stderr, /Already downloaded/);
  assert.strictEqual(seen.length, n);
});

test('pull: a download cut in the middle resumes with a Range request', async () => {
  const dir = dirFor('cut');
  const first = await run(['pull', 'cut', '--yes', '--dir', dir, '--retries', '0']);
  assert.strictEqual(first.code, 1, first.stderr);
  assert.match(first.stderr, /run again to resume/);
  assert.ok(!fs.existsSync(path.join(dir, 'cut.bin')));
  const partSize = fs.statSync(path.join(dir, 'cut.bin.part')).size;
  assert.ok(partSize > 0 && partSize < MODEL_BYTES.length, `part of ${partSize} bytes`);
  const second = await run(['pull', 'cut', '--yes', '--dir', dir]);
  assert.strictEqual(second.code, 0, second.stderr);
  assert.ok(seen.some((s) => s.url === '/cut/model.bin' && s.range === `bytes=${partSize}-`), 'the second run sent Range');
  assert.ok(fs.readFileSync(path.join(dir, 'cut.bin')).equals(MODEL_BYTES));
  assert.ok(!fs.existsSync(path.join(dir, 'cut.bin.part')));
});

test('pull: a wrong checksum fails with exit 1 and leaves no file', async () => {
  const dir = dirFor('badsha');
  const r = await run(['pull', 'badsha', '--yes', '--dir', dir]);
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /SHA-256 mismatch/);
  assert.deepStrictEqual(files(dir), []);
});

test('pull: a 404 is a clear error with exit 1', async () => {
  const dir = dirFor('missing');
  const r = await run(['pull', 'missing', '--yes', '--dir', dir]);
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /HTTP 404.*nothing\/model\.bin/);
  assert.ok(!fs.existsSync(path.join(dir, 'missing.bin')));
});

test('pull: Ctrl-C mid-download exits 130 and keeps only the .part file', async () => {
  const dir = dirFor('slow');
  let sent = false;
  const r = await run(['pull', 'slow', '--yes', '--dir', dir], {
    onStderr: (err, child) => {
      // The progress line for 0 % appears once the response has started.
      if (!sent && /slow\.bin: \d+%/.test(err)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 200);
      }
    },
  });
  assert.ok(sent, r.stderr);
  assert.strictEqual(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted/i);
  assert.deepStrictEqual(files(dir), ['slow.bin.part']);
});

test('pull: --mirror replaces the Hugging Face host', async () => {
  const dir = dirFor('mirror');
  const r = await run(['pull', 'hf', '--yes', '--dir', dir, '--mirror', base, '--no-config']);
  assert.strictEqual(r.code, 0, r.stderr);
  assert.deepStrictEqual(files(dir), ['hf.bin']);
});

test('pull: an unknown id is a usage error; --setup without a terminal asks for --model', async () => {
  const r = await run(['pull', 'nope', '--yes', '--dir', dirFor('x')]);
  assert.strictEqual(r.code, 2);
  assert.match(r.stderr, /unknown model "nope".*good/);
  const s = await run(['--setup']);
  assert.strictEqual(s.code, 2);
  assert.match(s.stderr, /--model <id> --yes/);
});

const meters = (stderr) => stderr.split('\n').filter((l) => l.startsWith('meter ')).map((l) => JSON.parse(l.slice(6)));

test('chat: piped stdin, replies on stdout, and turn 2 evaluates only its own text', async () => {
  const r = await run(['--modelPath', MODEL, '--meter', '--maxTokens', '16', '--seed', '1'], { input: 'Hello there\nWhat is a dragon?\n' });
  assert.strictEqual(r.code, 0, r.stderr);
  assert.strictEqual(r.stdout.split('\n').filter((l) => l.trim()).length >= 1, true, r.stdout);
  const [t1, t2] = meters(r.stderr);
  assert.ok(t1 && t2, r.stderr);
  assert.strictEqual(t1.promptTokensCached, 0);
  assert.strictEqual(t1.promptTokens, Buffer.byteLength('User: Hello there\n\nAssistant:')); // bytes tokenizer: 1 token per byte
  // Turn 2 feeds the separator still owed and the new message only; the history comes from the state.
  assert.strictEqual(t2.newText, '\n\nUser: What is a dragon?\n\nAssistant:');
  assert.ok(!t2.newText.includes('Hello there'));
  assert.strictEqual(t2.promptTokens, Buffer.byteLength(t2.newText));
  assert.strictEqual(t2.promptTokensCached, t1.promptTokens + t1.completionTokens);
});

test('chat: /save and /load carry the conversation state to another run', async () => {
  const file = path.join(tmp, 'conv.chat');
  const a = await run(['chat', MODEL, '--meter', '--maxTokens', '8'], { input: `Hi\n/save ${file}\n` });
  assert.strictEqual(a.code, 0, a.stderr);
  const [t1] = meters(a.stderr);
  const b = await run(['chat', MODEL, '--meter', '--maxTokens', '8'], { input: `/load ${file}\nMore please\n/reset\nAgain\n/exit\nnever read\n` });
  assert.strictEqual(b.code, 0, b.stderr);
  const [t2, t3] = meters(b.stderr);
  assert.strictEqual(t2.turn, 2);
  assert.strictEqual(t2.promptTokensCached, t1.promptTokens + t1.completionTokens);
  assert.strictEqual(t3.promptTokensCached, 0, 'after /reset');
  assert.match(b.stdout, /loaded 1 turns/);
});

test('--dragon: RWKV-cpp-node output with the perf JSON line, in any flag order', async () => {
  const r = await run(['--size', '20', '--modelPath', MODEL, '--dragon']);
  assert.strictEqual(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Running the test dragon prompt: \nIn a shocking finding/);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RWKV perf stats: '));
  const perf = JSON.parse(line.slice('RWKV perf stats: '.length));
  for (const k of ['queueIdleTime', 'promptTime', 'completionTime', 'totalTime', 'timePerPrompt', 'timePerCompletion', 'promptPerSecond', 'completionPerSecond']) {
    assert.strictEqual(typeof perf[k], 'number', k);
  }
});

test('--dragon --json: one machine-readable record', async () => {
  const r = await run(['--dragon', '--json', '--size', '10', '--modelPath', MODEL, '--seed', '5']);
  assert.strictEqual(r.code, 0, r.stderr);
  const rec = JSON.parse(r.stdout);
  assert.ok(rec.machine.cores >= 1 && rec.machine.memoryBytes > 0 && typeof rec.machine.cpu === 'string');
  assert.strictEqual(rec.model.version, '5.1');
  assert.strictEqual(rec.model.dataType, 'FP32');
  assert.strictEqual(rec.settings.size, 10);
  assert.ok(rec.results.completionTokens <= 10);
  assert.ok(rec.results.decodeTokensPerSecond > 0 && rec.results.msPerToken > 0 && rec.results.promptTokensPerSecond > 0);
});

test('info and quantize', async () => {
  const i = await run(['info', MODEL, '--json']);
  assert.strictEqual(i.code, 0, i.stderr);
  const info = JSON.parse(i.stdout);
  assert.strictEqual(info.version, '5.1');
  assert.strictEqual(info.nVocab, 256);
  assert.ok(info.params > 0 && info.stateSize > 0 && info.memoryNeeded > info.fileBytes);
  const text = await run(['info', MODEL]);
  assert.match(text.stdout, /parameters\s+0\.68 M/);
  const out = path.join(tmp, 'q.bin');
  const q = await run(['quantize', MODEL, out, 'Q5_1']);
  assert.strictEqual(q.code, 0, q.stderr);
  assert.ok(fs.statSync(out).size < MODEL_BYTES.length);
  const qi = JSON.parse((await run(['info', out, '--json'])).stdout);
  assert.strictEqual(qi.dataType, 'Q5_1');
  const again = await run(['quantize', MODEL, out, 'Q5_1']);
  assert.strictEqual(again.code, 1);
  assert.match(again.stderr, /--force/);
});

test('usage errors exit 2; --help and --version exit 0', async () => {
  const bad = await run(['--modelPath', MODEL, '--bogus']);
  assert.strictEqual(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--bogus'/);
  const threads = await run(['--dragon', '--threads', '0', '--modelPath', MODEL]);
  assert.strictEqual(threads.code, 2);
  assert.match(threads.stderr, /threads must be/);
  const typo = await run(['chatt']);
  assert.strictEqual(typo.code, 2);
  for (const args of [['--help'], ['chat', '--help'], ['pull', '--help'], ['dragon', '--help'], ['info', '--help'], ['quantize', '--help'], ['make-synthetic', '--help'], ['serve', '--help'], ['complete', '--help']]) {
    const h = await run(args);
    assert.strictEqual(h.code, 0, args.join(' '));
    assert.match(h.stdout, /Usage: rwkv-node/);
  }
  const v = await run(['--version']);
  assert.strictEqual(v.stdout.trim(), require('../package.json').version);
  const missing = await run(['--modelPath', path.join(tmp, 'no-such.bin')], { input: 'hi\n' });
  assert.strictEqual(missing.code, 1);
  assert.match(missing.stderr, /no-such\.bin/);
});

test('chat state: after a reply ends on the stop string, state + owed text equals the whole transcript', async () => {
  const { RWKV } = require('../lib/rwkv');
  const { Conversation } = require('../lib/cli-conversation');
  const model = await new RWKV({ path: MODEL }).setup();
  try {
    let convo;
    // A bias towards "\n" makes the tiny model end its reply with "\n\n" (the stop string) quickly.
    for (let seed = 0; seed < 20 && !convo; seed++) {
      const c = new Conversation(model, { sampling: { seed, logitBias: { 10: 4 } }, maxTokens: 300 });
      if ((await c.say('Tell me a story')).result.finishReason === 'stop') convo = c;
    }
    assert.ok(convo, 'no reply ended with the stop string');
    const next = 'User: and then?';
    const fromState = await model.eval(model.tokenize(convo.pending + next), convo.state);
    const fromText = await model.eval(model.tokenize(`${convo.text}\n\n${next}`));
    let diff = 0;
    for (let i = 0; i < fromText.logits.length; i++) diff = Math.max(diff, Math.abs(fromState.logits[i] - fromText.logits[i]));
    assert.ok(diff < 1e-4, `logits differ by ${diff}`);
  } finally {
    await model.free();
  }
});

test('complete: the prompt from a flag, a file or stdin; the library\'s greedy continuation on stdout', async () => {
  const { RWKV } = require('../lib/rwkv');
  const model = await new RWKV({ path: MODEL, tokenizer: 'bytes' }).setup();
  const direct = await model.completion({ prompt: 'The cat sat', max_tokens: 24, temperature: 0 });
  const fromStdin = await model.completion({ prompt: 'Once upon a time\n', max_tokens: 12, temperature: 0, stop: ['.'] });
  await model.free();
  const flag = await run(['complete', MODEL, '--prompt', 'The cat sat', '--maxTokens', '24', '--temperature', '0']);
  assert.strictEqual(flag.code, 0, flag.stderr);
  assert.strictEqual(flag.stdout, `${direct.completion}\n`);
  const file = path.join(tmp, 'prompt.txt');
  fs.writeFileSync(file, 'The cat sat');
  const fromFile = await run(['complete', MODEL, '--promptFile', file, '--maxTokens', '24', '--temperature', '0', '--timing']);
  assert.strictEqual(fromFile.stdout, flag.stdout);
  assert.match(fromFile.stderr, /11 prompt tokens .* 24 generated/);
  const json = await run(['complete', MODEL, '--maxTokens', '12', '--temperature', '0', '--stop', '.', '--json'], { input: 'Once upon a time\n' });
  assert.strictEqual(json.code, 0, json.stderr);
  const rec = JSON.parse(json.stdout);
  assert.strictEqual(rec.completion, fromStdin.completion);
  assert.strictEqual(rec.finishReason, fromStdin.finishReason);
  assert.strictEqual(rec.usage.promptTokens, 17);
  for (const args of [['--prompt', 'x', '--promptFile', file], ['--prompt', '']]) {
    const bad = await run(['complete', MODEL, ...args]);
    assert.strictEqual(bad.code, 2, bad.stderr);
  }
});
