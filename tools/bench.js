#!/usr/bin/env node
'use strict';
// End-to-end CPU benchmark of rwkv-node: `npm run bench [-- options]`.
//
// 1. Measures the machine's memory read bandwidth (native/tools/rwkv_bandwidth.cpp).
// 2. Generates synthetic RWKV-7 models of real shapes (deterministic seed), cached in bench-out/models/.
// 3. Per model, through the Node API in child processes: decode tok/s in slices (tools/bench-worker.js
//    in its decode mode, which decodes n tokens on command), each slice between two samples of the
//    bandwidth of the moment (`rwkv_bandwidth --serve`); then load time, peak RSS and prefill tok/s for
//    512 tokens (tools/bench-worker.js). Plus the per-call cost of eval() on a tiny model.
// 4. Decode ceiling = bandwidth(2 threads) / bytes read per token, and per slice decode GB/s / the
//    bandwidth sampled around it; writes the table to BENCHMARKS.md between <!-- bench:cpu:start -->
//    and <!-- bench:cpu:end --> (other sections are kept).
// 5. --peer: the same weights as GGUF through llama.cpp (node-llama-cpp, installed on demand into
//    bench-out/peer/, never a dependency), interleaved with the rwkv-node load and prefill runs.
//
// Timings are reported, never asserted. Progress goes to stderr; the Markdown section to stdout too.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { fork, spawn, spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'bench-out');
const MODEL_DIR = path.join(OUT_DIR, 'models');
const PEER_DIR = path.join(OUT_DIR, 'peer');
const PEER_PACKAGE = 'node-llama-cpp@3.22.1';
const PEER_BINARIES = '@node-llama-cpp/linux-x64@3.22.1';
const SHARED = process.env.RWKV_SHARED_DIR || path.join(ROOT, '..', 'shared');
const VOCAB = path.join(SHARED, 'vocab', 'rwkv_vocab_v20230424.txt');
const TINY = path.join(SHARED, 'models', 'tiny', 'tiny-rwkv-7v0-834K-FP32.bin');
const MARK_START = '<!-- bench:cpu:start -->';
const MARK_END = '<!-- bench:cpu:end -->';
const DECODE_SHARE = 0.4; // of --budget: decode slices; the rest is prefill
const DECODE_MIN = 4; // tokens per decode slice, at least, whatever the budget
const SLICE_MAX_TOKENS = 1024; // and at most
const BW_SAMPLE_MS = 300; // one bandwidth sample beside a decode slice

// Measured by peers on this machine kind (2 threads, the same synthetic shapes), from the issue.
const PEERS = {
  '0.1B FP16': { ceiling: 87, rwkvcppDecode: 54, llamaDecode: 35, rwkvcppPrefill: 207, llamaPrefill: 482 },
  '0.1B Q8_0': { ceiling: 121, rwkvcppDecode: 66, llamaDecode: 42, rwkvcppPrefill: 251, llamaPrefill: 582 },
  '0.4B FP16': { ceiling: 32, rwkvcppDecode: 20.1, llamaDecode: 20.0, rwkvcppPrefill: 69, llamaPrefill: 144 },
  '0.4B Q8_0': { ceiling: 50, rwkvcppDecode: 27.4, llamaDecode: 24.5, rwkvcppPrefill: 81, llamaPrefill: 176 },
  '1.5B FP16': { ceiling: 8.9, rwkvcppDecode: 6.0, llamaDecode: 5.9, rwkvcppPrefill: 18.5, llamaPrefill: 36.9 },
  '1.5B Q8_0': { ceiling: 14.9, rwkvcppDecode: 8.2, llamaDecode: 8.9, rwkvcppPrefill: 23.4, llamaPrefill: 47.5 },
  '1.5B Q5_1': { ceiling: 19.2, rwkvcppDecode: 8.9, llamaDecode: 8.7, rwkvcppPrefill: 18.8, llamaPrefill: 22.8 },
};
// Decode goals (fraction of the ceiling), from the issue.
function decodeGoal(size, type) {
  if (size === '0.1B') return 0.8;
  return type === 'FP16' || type === 'Q8_0' || type === 'FP32' ? 0.85 : 0.75;
}

const USAGE = `usage: npm run bench -- [options]
  --quick             0.1B and 0.4B, FP16 and Q8_0 only, shorter time budgets (about 2 minutes)
  --peer              also run llama.cpp (node-llama-cpp ${PEER_PACKAGE.split('@')[1]}, installed on demand into
                      bench-out/peer/) on the same weights as GGUF (each row's type), interleaved with rwkv-node
  --sizes 0.1B,0.4B   model sizes (default 0.1B,0.4B,1.5B)
  --types FP16,Q8_0   weight types (default FP16,Q8_0,Q5_1,Q4_0)
  --threads N         threads for every engine (default 2)
  --runs N            timed runs of load and prefill (and of llama.cpp), the median is reported (default 3)
  --slices N          decode slices per model, each between two bandwidth samples; the median slice
                      is reported (default 9; fewer when the shortest slice does not fit the budget)
  --budget S          seconds per model for decode + prefill; token counts adapt (default 40, quick 16)
  --seed N            synthetic weights seed (default 42)
  --regen             regenerate the cached synthetic models
  --no-build          do not (re)build the C++ tools with CMake; use what exists or compile rwkv_bandwidth alone
  --no-write          print the Markdown section, leave BENCHMARKS.md alone
  --out FILE          the Markdown file to update (default BENCHMARKS.md)`;

function parseArgs(argv) {
  const o = {
    quick: false, peer: false, sizes: null, types: null, threads: 2, runs: 3, slices: 9, budget: null, seed: 42,
    regen: false, build: true, write: true, out: path.join(ROOT, 'BENCHMARKS.md'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    const int = (v, min) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) fail(`${a}: expected an integer >= ${min}, got ${v}`);
      return n;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--peer') o.peer = true;
    else if (a === '--sizes') o.sizes = val().split(',').map((s) => s.trim().toUpperCase().replace(/B$/, 'B'));
    else if (a === '--types') o.types = val().split(',').map((s) => s.trim().toUpperCase());
    else if (a === '--threads') o.threads = int(val(), 1);
    else if (a === '--runs') o.runs = int(val(), 1);
    else if (a === '--slices') o.slices = int(val(), 1);
    else if (a === '--budget') o.budget = int(val(), 1);
    else if (a === '--seed') o.seed = int(val(), 0);
    else if (a === '--regen') o.regen = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--no-write') o.write = false;
    else if (a === '--out') o.out = path.resolve(val());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown option ${a}\n${USAGE}`);
  }
  o.sizes = o.sizes || (o.quick ? ['0.1B', '0.4B'] : ['0.1B', '0.4B', '1.5B']);
  o.types = o.types || (o.quick ? ['FP16', 'Q8_0'] : ['FP16', 'Q8_0', 'Q5_1', 'Q4_0']);
  o.budget = o.budget || (o.quick ? 16 : 40);
  for (const s of o.sizes) if (!['0.1B', '0.4B', '1.5B', '2.9B', '7B'].includes(s)) fail(`unknown size ${s}`);
  for (const t of o.types) if (!['FP32', 'FP16', 'Q8_0', 'Q5_1', 'Q5_0', 'Q4_1', 'Q4_0'].includes(t)) fail(`unknown type ${t}`);
  return o;
}

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const T0 = Date.now();
function log(msg) {
  const s = ((Date.now() - T0) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${s}s] ${msg}\n`);
}

function median(v) {
  const s = v.filter((x) => x !== undefined && x !== null && !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : undefined;
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
}

// CPU time (seconds) used by the whole machine and by this process with its children (the waited-for
// ones and those still running: the bandwidth sampler lives through the whole run), from /proc; their
// difference over an interval is what other people's processes took.
function cpuTimes() {
  try {
    const hz = 100; // USER_HZ on Linux
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = cpu.reduce((a, b) => a + b, 0) - cpu[3] - (cpu[4] || 0); // all but idle and iowait
    let mine = procTicks('self');
    for (const c of liveChildren) mine += procTicks(c.pid);
    return { busy: busy / hz, mine: mine / hz, wall: performance.now() / 1000 };
  } catch {
    return null;
  }
}

// utime + stime + cutime + cstime of a process, in clock ticks; 0 once it is gone.
function procTicks(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
    return f[11] + f[12] + f[13] + f[14];
  } catch {
    if (pid === 'self') throw new Error('no /proc');
    return 0;
  }
}

// The share of the machine's CPUs (0..1) other processes used between two cpuTimes() readings.
function othersShare(a, b) {
  if (!a || !b || b.wall <= a.wall) return undefined;
  return Math.max(0, (b.busy - a.busy - (b.mine - a.mine)) / ((b.wall - a.wall) * os.cpus().length));
}

function loadAvg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(', ');
}

// ---------------------------------------------------------------- machine

function machine() {
  let cpu = os.cpus()[0]?.model || 'unknown';
  let flags = '';
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    cpu = (info.match(/^model name\s*:\s*(.*)$/m) || [])[1] || cpu;
    const fam = (info.match(/^cpu family\s*:\s*(\d+)/m) || [])[1];
    const mod = (info.match(/^model\s*:\s*(\d+)/m) || [])[1];
    if (fam) cpu += ` (family ${fam}, model ${mod})`;
    const f = ` ${(info.match(/^flags\s*:\s*(.*)$/m) || [])[1] || ''} `;
    flags = ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'f16c'].filter((x) => f.includes(` ${x} `)).join(' ');
  } catch {
    // not Linux: os.cpus() only
  }
  const git = (args) => {
    const r = sh('git', args);
    return r.status === 0 ? r.stdout.trim() : '';
  };
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) ? ' (with uncommitted changes)' : '';
  return {
    cpu, flags, cores: os.cpus().length, memGB: os.totalmem() / 2 ** 30, commit: commit + dirty,
    node: process.version, os: `${os.type()} ${os.release()}`,
  };
}

// ---------------------------------------------------------------- addon

// Others may be rebuilding the addon: retry loading it in a child for up to 3 minutes.
function waitForAddon() {
  for (let attempt = 0; ; attempt++) {
    const r = sh(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'lib', 'rwkv.js'))})`]);
    if (r.status === 0) return;
    if (attempt >= 18) fail(`the addon does not load:\n${r.stderr}\nbuild it: node-gyp build (see README)`);
    log(`the addon does not load yet (${(r.stderr.split('\n').find((l) => /Error/.test(l)) || '').trim()}); retrying in 10 s`);
    spawnSync('sleep', ['10']);
  }
}

// ---------------------------------------------------------------- C++ tools

function newer(a, b) {
  try {
    return fs.statSync(a).mtimeMs >= fs.statSync(b).mtimeMs;
  } catch {
    return false;
  }
}

// The newest modification time of the engine's sources (what the addon is compiled from).
function newestSourceMs() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cpp|h|glsl|comp|txt)$/.test(e.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(ROOT, 'native'));
  return newest;
}

// A bench of an addon older than the sources measures old code: rebuild it (npm run build) unless
// --no-build, in which case the run goes on and says so.
function ensureAddonCurrent(opts) {
  const addon = path.join(ROOT, 'build', 'Release', 'rwkv_node.node');
  if (!fs.existsSync(addon) || fs.statSync(addon).mtimeMs >= newestSourceMs()) return;
  if (!opts.build) {
    log('WARNING: build/Release/rwkv_node.node is older than native/ (--no-build): this run measures the old addon');
    return;
  }
  log('the addon is older than native/: rebuilding it (npm run build)');
  const r = sh(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { timeout: 1800e3 });
  if (r.status !== 0) fail(`npm run build failed:\n${(r.stdout + r.stderr).split('\n').slice(-15).join('\n')}`);
}

// rwkv_bandwidth and rwkv_eval_timing from build-cmake/ (built incrementally with -j1 unless --no-build);
// rwkv_bandwidth needs nothing from the engine, so it is compiled alone into bench-out/bin/ when CMake fails.
function cppTools(opts) {
  const dir = path.join(ROOT, 'build-cmake');
  const tools = {};
  const built = new Set();
  if (opts.build && fs.existsSync(path.join(dir, 'CMakeCache.txt'))) {
    log('building the C++ tools (cmake --build build-cmake --target rwkv_bandwidth rwkv_eval_timing -j 1)');
    for (const target of ['rwkv_bandwidth', 'rwkv_eval_timing']) {
      let r = sh('cmake', ['--build', dir, '--target', target, '-j', '1'], { timeout: 900e3 });
      if (r.status !== 0 && /No rule to make target/.test(r.stdout + r.stderr)) {
        sh('cmake', ['-S', ROOT, '-B', dir]); // a new native/tools/*.cpp: re-glob
        r = sh('cmake', ['--build', dir, '--target', target, '-j', '1'], { timeout: 900e3 });
      }
      if (r.status === 0) built.add(target);
      else {
        const err = (r.stdout + r.stderr).split('\n').filter((l) => /error/i.test(l)).slice(0, 3).join('\n');
        log(`  ${target} did not build (the C++ comparison is skipped):\n${err}`);
      }
    }
  }
  const src = path.join(ROOT, 'native', 'tools', 'rwkv_bandwidth.cpp');
  for (const name of ['rwkv_bandwidth', 'rwkv_eval_timing']) {
    const exe = path.join(dir, name);
    // rwkv_bandwidth stands alone (fine if not older than its source); rwkv_eval_timing links the
    // engine, so it is used only when it was just built against the current sources.
    if (name === 'rwkv_eval_timing' ? built.has(name) : fs.existsSync(exe) && newer(exe, src)) tools[name] = exe;
  }
  if (!tools.rwkv_bandwidth) {
    const exe = path.join(OUT_DIR, 'bin', 'rwkv_bandwidth');
    if (!newer(exe, src)) {
      fs.mkdirSync(path.dirname(exe), { recursive: true });
      log('compiling rwkv_bandwidth alone (g++ -O3)');
      const r = sh('g++', ['-O3', '-std=c++20', '-pthread', src, '-o', exe]);
      if (r.status !== 0) fail(`cannot compile ${src}:\n${r.stderr}`);
    }
    tools.rwkv_bandwidth = exe;
  }
  return tools;
}

// Read bandwidth with 1 and `threads` threads, each in a fresh process; GB/s per thread count.
function bandwidth(tools, threads, { extra = [], reps = 9 } = {}) {
  const counts = [...new Set([1, threads])].join(',');
  const r = sh(tools.rwkv_bandwidth, ['--json', '--reps', String(reps), '--threads', counts, ...extra], { timeout: 300e3 });
  if (r.status !== 0) fail(`rwkv_bandwidth failed:\n${r.stderr}`);
  const j = JSON.parse(r.stdout);
  const at = (t) => j.results.find((x) => x.threads === t);
  return { one: at(1), n: at(threads), raw: j };
}

function evalTiming(tools, model, args) {
  if (!tools.rwkv_eval_timing) return null;
  const r = sh(tools.rwkv_eval_timing, [model, '--json', ...args], { timeout: 600e3 });
  if (r.status !== 0) {
    log(`  rwkv_eval_timing failed: ${r.stderr.trim()}`);
    return null;
  }
  return JSON.parse(r.stdout);
}

// ---------------------------------------------------------------- models

function modelPath(size, type, seed) {
  return path.join(MODEL_DIR, `rwkv7-synthetic-${size}-${type}-seed${seed}.bin`);
}
// The same weights for llama.cpp: FP16, or the .bin's quantized type (ggml's blocks are rwkv.cpp's).
function ggufPath(size, type, seed) {
  return path.join(MODEL_DIR, `rwkv7-synthetic-${size}-${type}-seed${seed}.gguf`);
}

async function ensureModel(RWKV, size, type, opts, withGguf) {
  const bin = modelPath(size, type, opts.seed);
  const gguf = withGguf ? ggufPath(size, type, opts.seed) : null;
  if (!opts.regen && fs.existsSync(bin) && (!gguf || fs.existsSync(gguf))) return { bin, gguf };
  fs.mkdirSync(MODEL_DIR, { recursive: true });
  const t0 = Date.now();
  let last = -1;
  await RWKV.makeSynthetic(size, bin, {
    type, seed: opts.seed, gguf: gguf || undefined, vocab: gguf && fs.existsSync(VOCAB) ? VOCAB : undefined,
    onProgress: (f) => {
      const pct = Math.floor(f * 10) * 10;
      if (pct !== last) process.stderr.write(pct === 0 ? `        generating ${path.basename(bin)}${gguf ? ' (+ GGUF)' : ''}: 0%` : ` ${pct}%`);
      last = pct;
    },
  });
  process.stderr.write('\n');
  log(`  generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { bin, gguf };
}

// Reads a file through once so that the measurement finds it in the page cache.
function warmPageCache(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(16 << 20);
  try {
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------- workers

// Every child this process started and that still runs; none outlives the bench (fail() included).
const liveChildren = new Set();
function killChildrenOnExit() {
  process.on('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopped\n`);
      process.exit(130);
    });
  }
}

const ADDON_BROKEN = /symbol lookup error|could not load its native addon|invalid ELF header|file too short/;

// Runs a worker script and resolves to its JSON result (null on failure). Its stderr is passed
// through. Others may be rebuilding the addon meanwhile: a child that cannot load it is retried.
async function runChild(script, cfg, timeoutS) {
  for (let attempt = 0; ; attempt++) {
    const r = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(__dirname, script), JSON.stringify(cfg)], {
        cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      });
      liveChildren.add(child);
      let out = '';
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => {
        err += d;
        process.stderr.write(d);
      });
      child.on('close', (code, signal) => {
        liveChildren.delete(child);
        clearTimeout(timer);
        resolve({ code, signal, out, err });
      });
    });
    if (r.code === 0) return JSON.parse(r.out.trim().split('\n').pop());
    if (ADDON_BROKEN.test(r.err) && attempt < 12) {
      log(`  ${script}: the addon does not load (being rebuilt?); retrying in 15 s`);
      await new Promise((res) => setTimeout(res, 15e3));
      continue;
    }
    log(`  ${script} failed (${r.signal || `exit ${r.code}`})`);
    return null;
  }
}

// bench-worker.js measures load, prefill and peak RSS; rwkv-node's decode is measured in slices
// (decodeSlices). llama.cpp (bench-peer.js) also decodes, with the decode share of the budget.
function workerConfig(opts, file, runs) {
  return {
    mode: 'model', path: file, threads: opts.threads, vocab: fs.existsSync(VOCAB) ? VOCAB : null, loadRuns: 3, runs,
    prefill: 512, prefillBudgetS: (opts.budget * (1 - DECODE_SHARE) * runs) / opts.runs,
  };
}

function peerConfig(opts, file, gguf) {
  return {
    ...workerConfig(opts, file, 1), mode: 'peer', gguf, peerDir: PEER_DIR,
    decodeBudgetS: (opts.budget * DECODE_SHARE) / opts.runs, decodeMin: DECODE_MIN, decodeMax: 64,
  };
}

// Bytes read per decoded token: every weight but the embedding table, one embedding row, and the
// state read and written.
const bytesPerToken = (info) => info.decodeBytes + info.stateSize * 4 * 2;

// ---------------------------------------------------------------- decode slices

// The bandwidth of the moment: one `rwkv_bandwidth --serve` child for the whole run, its buffer
// prepared once, so that a sample costs ~BW_SAMPLE_MS and can sit right beside each decode slice.
// A sampler that dies ends the bench: every ratio would lack its denominator.
async function bandwidthServer(tools, threads) {
  const child = spawn(tools.rwkv_bandwidth, ['--serve', '--threads', String(threads)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  liveChildren.add(child);
  const waiting = [];
  let out = '';
  let err = '';
  let closing = false;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.stdout.on('data', (d) => {
    out += d;
    for (let i; (i = out.indexOf('\n')) >= 0; out = out.slice(i + 1)) {
      const w = waiting.shift();
      if (w) w(out.slice(0, i));
    }
  });
  child.stderr.on('data', (d) => (err += d));
  child.stdin.on('error', () => {}); // EPIPE once it died: reported below
  child.on('error', (e) => fail(`cannot start ${tools.rwkv_bandwidth} --serve: ${e.message}`));
  child.on('exit', (code, signal) => {
    liveChildren.delete(child);
    if (!closing) fail(`the bandwidth sampler (rwkv_bandwidth --serve) died (${signal || `exit ${code}`})${err ? `:\n${err}` : ''}`);
  });
  const line = (timeoutS) => new Promise((resolve) => {
    const timer = setTimeout(() => fail(`the bandwidth sampler (rwkv_bandwidth --serve) did not answer in ${timeoutS} s`), timeoutS * 1000);
    waiting.push((l) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(l));
      } catch {
        fail(`rwkv_bandwidth --serve printed ${JSON.stringify(l)}`);
      }
    });
  });
  const ready = await line(120); // allocating and touching 1 GiB
  if (!ready.ready) fail(`rwkv_bandwidth --serve: unexpected first line ${JSON.stringify(ready)}`);
  return {
    ready,
    async sample(ms) {
      const answer = line(60);
      child.stdin.write(`measure ${ms}\n`);
      const j = await answer;
      if (!(j.gbs > 0)) fail(`rwkv_bandwidth --serve answered ${JSON.stringify(j)}`);
      return j;
    },
    close() {
      closing = true;
      child.stdin.end('quit\n');
      return exited;
    },
  };
}

// Forks the decode child of one model; resolves once it is primed, to {info, decode(msg), close()},
// or null when it fails (logged). Its stderr is passed through; an addon being rebuilt is retried.
async function startDecoder(cfg) {
  for (let attempt = 0; ; attempt++) {
    const child = fork(path.join(__dirname, 'bench-worker.js'), [JSON.stringify({ mode: 'decode', ...cfg })], { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    liveChildren.add(child);
    let err = '';
    let pending = null; // the reply awaited: {resolve, reject}
    child.stderr.on('data', (d) => {
      err += d;
      process.stderr.write(d);
    });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
      liveChildren.delete(child);
      if (pending) pending.reject(new Error(`the decode child exited (${signal || `exit ${code}`})`));
      resolve();
    }));
    child.on('message', (m) => pending && pending.resolve(m));
    const reply = (timeoutS) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the decode child did not answer in ${timeoutS} s`));
      }, timeoutS * 1000);
      const done = (f) => (v) => {
        clearTimeout(timer);
        pending = null;
        f(v);
      };
      pending = { resolve: done(resolve), reject: done(reject) };
    });
    try {
      const ready = await reply(600);
      return {
        info: ready.info,
        decode: (msg) => {
          const r = reply(600); // a slice takes seconds: only a hung child gets here
          child.send(msg);
          return r;
        },
        close: async () => {
          if (child.connected) child.send({ quit: true });
          const t = setTimeout(() => child.kill('SIGKILL'), 30e3);
          await exited;
          clearTimeout(t);
        },
      };
    } catch (e) {
      child.kill('SIGKILL');
      await exited;
      if (ADDON_BROKEN.test(err) && attempt < 12) {
        log('  decode child: the addon does not load (being rebuilt?); retrying in 15 s');
        await new Promise((res) => setTimeout(res, 15e3));
        continue;
      }
      log(`  decode child failed: ${e.message}`);
      return null;
    }
  }
}

// A two-thread bandwidth sample below this multiple of the one-thread bandwidth (measured at the start)
// did not get two cores.
const ONE_CORE_FACTOR = 1.25;

// Decode in K slices, strictly alternating with bandwidth samples on the same cores (both need both):
// sample, slice, sample, slice, ..., sample. A slice's ratio is the bandwidth its decoding drew over
// the mean of the samples just before and just after it: on this shared machine the bandwidth moves
// by a third and more from minute to minute, so only samples seconds away compare like with like.
// Returns null when the decode child fails before its first slice.
async function decodeSlices(sampler, file, opts) {
  const dec = await startDecoder({ path: file, threads: opts.threads, vocab: fs.existsSync(VOCAB) ? VOCAB : null, decodeMax: SLICE_MAX_TOKENS });
  if (!dec) return null;
  const bytes = bytesPerToken(dec.info);
  const budgetS = opts.budget * DECODE_SHARE;
  let k = opts.slices;
  let n = SLICE_MAX_TOKENS;
  const raw = [await sampler.sample(BW_SAMPLE_MS)]; // {gbs, passes, ms} each
  const slices = [];
  try {
    for (let j = 0; j < k; j++) {
      // The first slice calibrates: it decodes until its share of the budget is spent (at least
      // DECODE_MIN tokens); the others decode as many tokens.
      const cpu0 = cpuTimes();
      const r = await dec.decode(j === 0 ? { decode: n, min: DECODE_MIN, untilS: budgetS / k } : { decode: n });
      const others = othersShare(cpu0, cpuTimes());
      raw.push(await sampler.sample(BW_SAMPLE_MS));
      if (j === 0) {
        n = r.n;
        // Even DECODE_MIN tokens take too long for k slices (a big model): as many as fit, 3 at least.
        const fit = Math.round(budgetS / r.s);
        if (r.s > (1.5 * budgetS) / k && fit < k) k = Math.max(Math.min(3, k), fit);
      }
      slices.push({ ...slice(r, bytes, raw[j].gbs, raw[j + 1].gbs), others });
      const x = slices[j];
      log(`  slice ${j + 1}/${k}: ${x.tokens} tokens in ${x.s.toFixed(3)} s, ${fmtTps(x.tps)} tok/s = ${fmt(x.gbs)} GB/s; ` +
        `bandwidth ${fmt(x.bwBefore)} → ${fmt(x.bwAfter)} GB/s; ${(100 * x.ratio).toFixed(0)}%; others' CPU ${others === undefined ? '?' : (100 * others).toFixed(0)}%`);
    }
  } catch (e) {
    log(`  decode stopped after ${slices.length} slice(s): ${e.message}`);
  } finally {
    await dec.close();
  }
  if (!slices.length) return null;
  // A sample of two threads at about one thread's bandwidth means the sampler's threads did not run side
  // by side (it comes in spells of a minute on this VM, 29-31 GB/s against 50-60, while decoding between
  // such samples drew more than they measured): a slice next to one is left out of the ratio, unless
  // fewer than 3 slices would remain.
  const paired = slices.filter((x) => !(opts.oneThreadGBs && Math.min(x.bwBefore, x.bwAfter) < ONE_CORE_FACTOR * opts.oneThreadGBs));
  const kept = paired.length >= 3 ? paired : slices;
  const ratios = kept.map((x) => x.ratio);
  return {
    info: dec.info, tokens: n, slices, samples: raw.map((x) => x.gbs), sampleMs: raw.map((x) => x.ms), samplePasses: raw.map((x) => x.passes),
    tps: median(slices.map((x) => x.tps)), ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios),
    leftOut: slices.length - kept.length, unpaired: slices.length - paired.length,
  };
}

function slice(r, bytes, bwBefore, bwAfter) {
  const tps = r.n / r.s;
  const gbs = (tps * bytes) / 1e9;
  return { tokens: r.n, s: r.s, tps, gbs, bwBefore, bwAfter, ratio: gbs / ((bwBefore + bwAfter) / 2) };
}

// ---------------------------------------------------------------- peer (node-llama-cpp)

function ensurePeer() {
  const marker = path.join(PEER_DIR, 'node_modules', 'node-llama-cpp', 'package.json');
  if (fs.existsSync(marker)) return { ok: true };
  fs.mkdirSync(PEER_DIR, { recursive: true });
  log(`installing ${PEER_PACKAGE} into bench-out/peer/ (not a dependency of rwkv-node)`);
  // Only the CPU prebuilt binaries for linux-x64 (--omit=optional skips the CUDA and Vulkan ones);
  // --ignore-scripts: nothing may download or build llama.cpp.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = sh(npm, ['install', '--prefix', PEER_DIR, '--no-audit', '--no-fund', '--save-exact', '--omit=optional', '--ignore-scripts',
    PEER_PACKAGE, PEER_BINARIES], { timeout: 600e3 });
  if (r.status !== 0) return { ok: false, why: `npm install ${PEER_PACKAGE} failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}` };
  return { ok: true };
}

// ---------------------------------------------------------------- report

const fmt = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(d));
const fmtTps = (v) => (v === undefined || v === null ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pctRange = (d) =>
  `${(100 * d.ratio).toFixed(0)}% (${(100 * d.ratioMin).toFixed(0)}–${(100 * d.ratioMax).toFixed(0)})` +
  (d.leftOut ? `, ${d.leftOut} of ${d.slices.length} slices left out` : d.unpaired ? `, ${d.unpaired} of ${d.slices.length} slices next to a one-core sample (kept: too few others)` : '');

function markdown(ctx) {
  const { opts, mach, bw, bwEnd, bwFile, bwSamples, ceilingGBs, rows, overhead, cppOverhead, peerNote, loadStart, loadEnd, baselineMB, command, elapsedS, othersAll } = ctx;
  const L = [];
  const date = new Date().toISOString().replace('T', ' ').replace(/\..*/, ' UTC');
  const nt = opts.threads;
  L.push('## CPU end-to-end');
  L.push('');
  L.push(`Generated by \`${command}\` (tools/bench.js) on ${date}, commit \`${mach.commit}\`, in ${Math.round(elapsedS)} s.`);
  L.push('');
  L.push(`- Machine: ${mach.cpu}, ${mach.cores} cores, ${mach.memGB.toFixed(0)} GiB; ${mach.flags || 'no AVX'}; ${mach.os}; Node ${mach.node}.`);
  L.push(`- Load average (1, 5, 15 min) at the start: ${loadStart}; at the end: ${loadEnd}. The machine is shared: other people's processes used ${othersAll === undefined ? '?' : `${(100 * othersAll).toFixed(0)}%`} of its CPU time during this run (from /proc/stat; the "others' CPU" column: during each model's measurement). With ${nt} threads on ${mach.cores} cores, any such use slows a measurement down: treat the rows where it is high as lower bounds.`);
  const sliced = rows.filter((r) => r.dec).map((r) => r.dec);
  const sampleNote = sliced.length
    ? `${nt}-thread samples by \`rwkv_bandwidth --serve\` (the same buffer, kept between samples; whole passes for ${fmt(median(sliced.flatMap((d) => d.sampleMs)), 0)} ms, ` +
      `${median(sliced.flatMap((d) => d.samplePasses))} passes, in the median sample; each sample the median of its passes)`
    : `${nt}-thread samples by \`rwkv_bandwidth --serve\``;
  const bwLine = (b) => `${fmt(b.one.medianGBs)} GB/s with 1 thread, ${fmt(b.n.medianGBs)} with ${b.n.threads} (best passes ${fmt(b.one.bestGBs)} / ${fmt(b.n.bestGBs)})`;
  L.push(`- Read bandwidth (\`rwkv_bandwidth\`: sums a 1 GiB buffer with AVX-512 loads, each thread pinned to its own CPU and summing its half; a pass timed by those threads, from the first one's start to the last one's end; medians of passes): ${bwLine(bw)} at the start, ${bwLine(bwEnd)} at the end, ` +
    `and ${sampleNote}, between the decode slices of each model (the "GB/s then" column: their median and range): ${bwSamples.length} measurements in all, from ${fmt(Math.min(...bwSamples))} to ${fmt(Math.max(...bwSamples))} GB/s.` +
    (bwFile ? ` Summing a memory-mapped model file instead (${bwFile.name}, from the page cache, mapped as the engine maps weights): ${bwLine(bwFile)}.` : ''));
  L.push(`- **Ceiling** = ${fmt(ceilingGBs)} GB/s (the median of all those ${nt}-thread measurements: start, end and every sample) ÷ bytes read per decoded token: \`info.decodeBytes\` (every weight but the embedding table, plus one embedding row) + the state read and written (stateSize × 4 × 2). "decode GB/s" is decode tok/s × those bytes: the bandwidth decoding actually drew. ` +
    `**"% of GB/s then"** is measured per model in slices that strictly alternate with bandwidth samples, never overlapping (both use both cores): sample, decode n tokens, sample, decode n tokens, …, sample (${opts.slices} slices and ${opts.slices + 1} samples unless the row's "tokens × slices" says fewer). ` +
    `A slice next to a sample of ${opts.threads} threads below ${ONE_CORE_FACTOR}× the one-thread bandwidth measured at the start (the sampler's threads did not run side by side) is left out of the ratio, as the row says, unless fewer than 3 slices would remain. ` +
    'A slice\'s ratio is n × bytes per token ÷ that slice\'s decode seconds, divided by the mean of the two samples just before and just after it; the column gives the median slice ratio and, in parentheses, the lowest and the highest. ' +
    'The machine\'s bandwidth drifts with its neighbours\' load from minute to minute; a slice and its two samples lie within a few seconds, so each ratio compares decoding with the bandwidth of the same moment. "decode ÷ issue\'s ceiling" divides decode tok/s by the ceiling the issue quotes for this machine kind (25 GB/s).');
  L.push(`- Everything goes through the Node API (\`new RWKV({path, threads: ${nt}})\`), each model in child processes, the file in the page cache (read once before). **Load**: \`setup()\` wall time, median of 3 (the tokenizer is built before). **Decode**: \`eval([token], state, {state, logits})\` (in place: no arrays allocated per token), one call per token from a primed state, in a child of its own that decodes one slice per command from the parent and idles while the parent samples the bandwidth; the median of the slices' tok/s, each slice the tokens shown from the same primed state (the count adapts to ${fmt(opts.budget * DECODE_SHARE, 0)} s of a ${opts.budget} s budget per model, at least ${DECODE_MIN} tokens). **Prefill**: one \`eval(tokens, null, {state, logits})\` call of 512 tokens from the initial state (the same output arrays each run), which the engine runs as sequence passes of the model's \`info.promptPassTokens\` (512 tokens for 0.1B and 0.4B, 256 for 1.5B: one and two passes); median of ${opts.runs} runs (fewer when one run is long: marked). **Peak RSS**: VmHWM of the child at the end; a child with only the addon and the tokenizer loaded peaks at ${fmt(baselineMB, 0)} MB.`);
  L.push(`- Synthetic RWKV-7 weights (\`RWKV.makeSynthetic\`, seed ${opts.seed}): G1 shapes, vocabulary 65536; speed does not depend on the values.`);
  L.push('');
  const peerCols = opts.peer;
  const head = ['model', 'type', 'file MB', 'load s', 'peak RSS MB', 'RSS − file MB', 'decode tok/s', 'tokens × slices', 'decode GB/s', 'GB/s then (samples: median, min–max)',
    'ceiling tok/s', '% ceiling', '% of GB/s then (median of slices, min–max)', 'goal', "decode ÷ issue's ceiling", 'prefill 512 tok/s', 'prefill ÷ llama.cpp', "others' CPU"];
  if (peerCols) head.push('llama.cpp here: decode', 'llama.cpp here: prefill');
  head.push('peers: ceiling', 'rwkv.cpp decode', 'llama.cpp decode', 'rwkv.cpp prefill', 'llama.cpp prefill');
  L.push(`| ${head.join(' | ')} |`);
  L.push(`|${head.map((h, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) {
    const p = PEERS[`${r.size} ${r.type}`] || {};
    const m = r.res || {};
    const pct = r.ceiling && m.decodeTps ? (100 * m.decodeTps) / r.ceiling : undefined;
    const d = r.dec;
    const goal = decodeGoal(r.size, r.type) * 100;
    const fewer = m.prefillRuns && m.prefillRuns.length < opts.runs ? ` (${m.prefillRuns.length} run${m.prefillRuns.length > 1 ? 's' : ''})` : '';
    const llamaPrefill = r.peer && r.peer.prefillTps ? r.peer.prefillTps : p.llamaPrefill;
    const ratio = m.prefillTps && llamaPrefill ? `${(m.prefillTps / llamaPrefill).toFixed(2)}×${r.peer && r.peer.prefillTps ? '' : ' (peers)'}` : '–';
    const cells = [
      r.size, r.type, fmt(r.fileBytes / 1e6, 0), m.loadS !== undefined ? m.loadS.toFixed(3) : '–', fmt(m.peakRssMB, 0),
      m.peakRssMB !== undefined ? fmt(m.peakRssMB - r.fileBytes / 2 ** 20, 0) : '–',
      fmtTps(m.decodeTps), d ? `${d.tokens} × ${d.slices.length}` : '–',
      m.decodeTps && r.decodeBytes ? fmt((m.decodeTps * r.decodeBytes) / 1e9) : '–',
      d ? `${fmt(median(d.samples))} (${fmt(Math.min(...d.samples))}–${fmt(Math.max(...d.samples))})` : '–', fmtTps(r.ceiling),
      pct !== undefined ? `${pct.toFixed(0)}%` : '–', d ? pctRange(d) : '–', `${goal.toFixed(0)}%`,
      p.ceiling && m.decodeTps ? `${(m.decodeTps / p.ceiling).toFixed(2)}×` : '–', `${fmtTps(m.prefillTps)}${fewer}`, ratio,
      r.others === undefined ? '–' : `${(100 * r.others).toFixed(0)}%`,
    ];
    if (peerCols) cells.push(r.peer ? fmtTps(r.peer.decodeTps) : '–', r.peer ? fmtTps(r.peer.prefillTps) : '–');
    cells.push(fmtTps(p.ceiling), fmtTps(p.rwkvcppDecode), fmtTps(p.llamaDecode), fmtTps(p.rwkvcppPrefill), fmtTps(p.llamaPrefill));
    L.push(`| ${cells.join(' | ')} |`);
  }
  L.push('');
  L.push('Goals (from the issue): decode ≥ 85% of the ceiling for FP16 and Q8_0 at 0.4B/1.5B, ≥ 75% for Q5_1/Q4_0, ≥ 80% at 0.1B; prefill 512 ≥ 2× llama.cpp; load ≤ 0.3 s for 1.5B from the page cache; peak RSS ≤ file size + 64 MB.');
  L.push('"peers" columns: rwkv.cpp and llama.cpp measured by others on this machine kind, same shapes and thread count (quoted from the issue, not measured by this run; their ceiling assumed 25 GB/s). "prefill ÷ llama.cpp" divides by llama.cpp measured here when it ran, else by the peers\' number. "RSS − file" is peak RSS minus the file size in MiB, the Node process itself included.');
  if (peerCols) L.push(`"llama.cpp here": ${peerNote}`);
  else L.push(`llama.cpp was not run here (\`npm run bench -- --peer\` runs it through ${PEER_PACKAGE} on the same weights as GGUF).`);
  L.push('');
  if (overhead) {
    let s = `**Per-call overhead** (tiny-rwkv-7v0-834K-FP32, ${overhead.calls} calls of \`eval([token], state)\`, median of ${overhead.callRuns.length} runs): ${fmt(overhead.callUs)} µs per call through Node`;
    if (cppOverhead) s += `; ${fmt(cppOverhead.decodeCallUs)} µs per \`Model::eval\` call from C++ alone (\`rwkv_eval_timing\`), so the addon and JS add ${fmt(overhead.callUs - cppOverhead.decodeCallUs)} µs per call`;
    else s += '; the C++-only time was not measured (`rwkv_eval_timing` did not build)';
    L.push(`${s}. Goal: under 200 µs beyond compute.`);
    L.push('');
  }
  if (ctx.cppModel) {
    const c = ctx.cppModel;
    L.push(`**C++ alone vs Node** (${c.name}, \`rwkv_eval_timing\`, the same token ids and token count, measured after the table): decode ${fmtTps(c.cpp.decodeTps)} tok/s from C++ (${fmt(c.cpp.decodeCallUs / 1000, 2)} ms per call) vs ${fmtTps(c.node.decodeTps)} through Node (${fmt(1000 / c.node.decodeTps, 2)} ms per token); load ${fmt(c.cpp.loadS, 4)} s vs ${fmt(c.node.loadS, 4)} s.`);
    L.push('');
  }
  return L.join('\n');
}

function writeSection(file, section) {
  const block = `${MARK_START}\n${section}\n${MARK_END}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\nMeasurements of rwkv-node. Each section is written by the tool it names; `npm run bench` regenerates the CPU end-to-end section only.\n';
  const a = text.indexOf(MARK_START);
  const b = text.indexOf(MARK_END);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + MARK_END.length);
  else text = `${text.replace(/\s*$/, '')}\n\n${block}\n`;
  fs.writeFileSync(file, text);
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  killChildrenOnExit();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const mach = machine();
  const loadStart = loadAvg();
  const cpuStart = cpuTimes();
  log(`${mach.cpu}, ${mach.cores} cores, ${mach.memGB.toFixed(0)} GiB; commit ${mach.commit}; load average ${loadStart}`);
  if (os.loadavg()[0] > mach.cores) log(`note: the load average (${os.loadavg()[0].toFixed(1)}) is above the core count; timings will be noisy`);

  waitForAddon();
  ensureAddonCurrent(opts);
  const { RWKV } = require(path.join(ROOT, 'lib', 'rwkv.js'));
  const tools = cppTools(opts);

  log('measuring read bandwidth');
  const bw = bandwidth(tools, opts.threads);
  log(`  ${fmt(bw.one.medianGBs)} GB/s (1 thread), ${fmt(bw.n.medianGBs)} GB/s (${opts.threads} threads), best ${fmt(bw.n.bestGBs)}`);

  let peer = { ok: false, why: 'not requested' };
  if (opts.peer) {
    peer = ensurePeer();
    if (!peer.ok) log(`  peer unavailable: ${peer.why}`);
  }

  const baseline = await runChild('bench-worker.js', { mode: 'baseline', vocab: fs.existsSync(VOCAB) ? VOCAB : null }, 60);

  // Per-call overhead on a tiny model (Node), and the same from C++ alone.
  let overhead = null;
  let cppOverhead = null;
  if (fs.existsSync(TINY)) {
    log('per-call overhead on tiny-rwkv-7v0-834K-FP32');
    const calls = opts.quick ? 1000 : 2000;
    overhead = await runChild('bench-worker.js', { mode: 'overhead', path: TINY, threads: opts.threads, calls, runs: opts.runs }, 120);
    cppOverhead = evalTiming(tools, TINY, ['--threads', String(opts.threads), '--decode', String(calls), '--prefill', '0', '--runs', String(opts.runs)]);
    if (overhead) log(`  ${fmt(overhead.callUs)} µs per eval call (Node)${cppOverhead ? `, ${fmt(cppOverhead.decodeCallUs)} µs (C++)` : ''}`);
  } else log(`skipping the per-call overhead: ${TINY} not found`);

  log(`starting the bandwidth sampler (rwkv_bandwidth --serve, ${opts.threads} threads, ${BW_SAMPLE_MS} ms per sample)`);
  const sampler = await bandwidthServer(tools, opts.threads);
  const rows = [];
  const bwSamples = [bw.n.medianGBs];
  for (const size of opts.sizes) {
    for (const type of opts.types) {
      const withPeer = peer.ok && type !== 'FP32';
      log(`${size} ${type}`);
      const { bin, gguf } = await ensureModel(RWKV, size, type, opts, withPeer);
      warmPageCache(bin);
      const row = { size, type, file: bin, fileBytes: fs.statSync(bin).size };
      const cpu0 = cpuTimes();
      // Decode first, in slices between samples of the bandwidth of the moment: neighbours on a
      // shared machine move it a lot.
      log(`  decode in ${opts.slices} slices, each between two bandwidth samples`);
      row.dec = await decodeSlices(sampler, bin, { ...opts, oneThreadGBs: bw.one.medianGBs });
      if (row.dec) bwSamples.push(...row.dec.samples);
      // Then load, prefill and peak RSS.
      if (withPeer) {
        // Interleaved: rwkv-node and llama.cpp alternate, one timed run each per round.
        warmPageCache(gguf);
        const mine = [];
        const theirs = [];
        for (let round = 0; round < opts.runs; round++) {
          const m = await runChild('bench-worker.js', workerConfig(opts, bin, 1), 900);
          if (m) mine.push(m);
          const p = await runChild('bench-peer.js', peerConfig(opts, bin, gguf), 900);
          if (p) theirs.push(p);
        }
        row.res = mine.length ? combine(mine) : null;
        row.peer = theirs.length ? combine(theirs) : null;
        if (!theirs.length) peer.failedOnce = true;
      } else {
        row.res = await runChild('bench-worker.js', workerConfig(opts, bin, opts.runs), 900);
      }
      row.others = othersShare(cpu0, cpuTimes());
      if (row.dec) row.res = { ...(row.res || {}), decodeTps: row.dec.tps };
      row.info = row.dec ? row.dec.info : row.res && row.res.info;
      if (row.info) row.decodeBytes = bytesPerToken(row.info); // the ceiling, even without slices
      const m = row.res || {};
      if (m.afterLoad) log(`  RSS: ${fmt(m.baselineMB, 0)} MB before load, ${fmt(m.afterLoad.rssMB, 0)} after, ${fmt(m.peakRssMB, 0)} peak after prefill`);
      if (row.dec) log(`  decode ${fmtTps(row.dec.tps)} tok/s (median of ${row.dec.slices.length} slices of ${row.dec.tokens} tokens), ` +
        `${pctRange(row.dec)} of the bandwidth then (median slice, min–max); samples ${fmt(Math.min(...row.dec.samples))} to ${fmt(Math.max(...row.dec.samples))} GB/s`);
      log(`  load ${fmt(m.loadS, 3)} s, peak RSS ${fmt(m.peakRssMB, 0)} MB, decode ${fmtTps(m.decodeTps)} tok/s, prefill ${fmtTps(m.prefillTps)} tok/s, others' CPU ${row.others === undefined ? '?' : (100 * row.others).toFixed(0)}%` +
        (row.peer ? `; llama.cpp decode ${fmtTps(row.peer.decodeTps)}, prefill ${fmtTps(row.peer.prefillTps)}` : ''));
      rows.push(row);
    }
  }

  // C++ alone vs Node on the first model: what the addon costs per token at a realistic size.
  let cppModel = null;
  if (tools.rwkv_eval_timing && rows[0] && rows[0].res) {
    log(`C++-only timing of ${rows[0].size} ${rows[0].type} (rwkv_eval_timing)`);
    const n = rows[0].dec ? rows[0].dec.tokens : 16;
    warmPageCache(rows[0].file);
    const cpp = evalTiming(tools, rows[0].file, ['--threads', String(opts.threads), '--decode', String(n), '--prefill', '0', '--runs', String(opts.runs)]);
    if (cpp) cppModel = { name: `${rows[0].size} ${rows[0].type}`, cpp, node: rows[0].res };
  }

  await sampler.close(); // its 1 GiB freed before the next measurement allocates another
  log('measuring read bandwidth again');
  const bwEnd = bandwidth(tools, opts.threads);
  bwSamples.push(bwEnd.n.medianGBs);
  let bwFile = null;
  const biggest = [...rows].sort((a, b) => b.fileBytes - a.fileBytes)[0];
  if (biggest) {
    warmPageCache(biggest.file);
    const b = bandwidth(tools, opts.threads, { extra: ['--file', biggest.file] });
    bwFile = { ...b, name: `${biggest.size} ${biggest.type}` };
  }
  // The ceiling's bandwidth: the median of every N-thread measurement of this run (each itself
  // a median of passes), robust to the moments when a neighbour takes the memory bus or a core.
  const ceilingGBs = median(bwSamples);
  for (const r of rows) if (r.decodeBytes) r.ceiling = (ceilingGBs * 1e9) / r.decodeBytes;
  log(`ceiling bandwidth ${fmt(ceilingGBs)} GB/s (median of ${bwSamples.length} measurements, ${fmt(Math.min(...bwSamples))} to ${fmt(Math.max(...bwSamples))})`);

  let peerNote = '';
  if (opts.peer) {
    if (!peer.ok) peerNote = `not run: ${peer.why}.`;
    else if (peer.failedOnce) peerNote = `${PEER_PACKAGE} (prebuilt CPU binaries) failed on some models; see the log. Each GGUF holds the row's weights (FP16 or the row's quantized type, llama.cpp's converter layout).`;
    else peerNote = `${PEER_PACKAGE} (prebuilt CPU binaries from npm, installed into bench-out/peer/), the same weights as GGUF, ${opts.threads} threads, batch 512, greedy decoding, interleaved with the rwkv-node load and prefill runs (rwkv-node's decode slices run before them); each row's GGUF holds that row's weights in its type (FP16, or the same quantized blocks as the .bin: ggml's Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 blocks are rwkv.cpp's), except the decay LoRA, FP32 as llama.cpp's converter writes it.`;
    const loads = rows.filter((r) => r.peer).map((r) => `${r.size} ${r.type} load ${fmt(r.peer.loadS, 3)} s, peak RSS ${fmt(r.peer.peakRssMB, 0)} MB (GGUF ${fmt(fs.statSync(ggufPath(r.size, r.type, opts.seed)).size / 1e6, 0)} MB)`);
    if (loads.length) peerNote += ` llama.cpp's \`loadModel()\` and peak RSS: ${loads.join('; ')}.`;
  }

  const elapsedS = (Date.now() - T0) / 1000;
  const section = markdown({
    opts, mach, bw, bwEnd, bwFile, bwSamples, ceilingGBs, rows, overhead, cppOverhead, cppModel, peerNote, loadStart, loadEnd: loadAvg(),
    othersAll: othersShare(cpuStart, cpuTimes()),
    baselineMB: baseline ? baseline.baselineMB : undefined, command, elapsedS,
  });
  process.stdout.write(`${section}\n`);
  fs.writeFileSync(path.join(OUT_DIR, 'bench-results.json'), `${JSON.stringify({ opts, mach, bw, bwEnd, bwFile, bwSamples, ceilingGBs, rows, overhead, cppOverhead, cppModel, peerNote }, null, 1)}\n`);
  if (opts.write) {
    writeSection(opts.out, section);
    log(`wrote ${path.relative(ROOT, opts.out)} (section between ${MARK_START} and ${MARK_END})`);
  }
  log(`done in ${elapsedS.toFixed(0)} s`);
}

// Medians over single-run results of interleaved rounds.
function combine(list) {
  const pick = (k) => list.map((x) => x[k]).filter((x) => x !== undefined);
  const flat = (k) => list.flatMap((x) => x[k] || []);
  return {
    ...list[0],
    loadS: median(pick('loadS')),
    peakRssMB: Math.max(...pick('peakRssMB')),
    decodeTps: median(flat('decodeRuns')),
    decodeRuns: flat('decodeRuns'),
    prefillTps: median(flat('prefillRuns')),
    prefillRuns: flat('prefillRuns'),
  };
}

main().catch((e) => {
  process.stderr.write(`bench: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
