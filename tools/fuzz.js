#!/usr/bin/env node
// Builds the libFuzzer target for the model loader with clang (ASan + UBSan) and runs it for N seconds
// (default 60) on a corpus seeded with the tiny models. Exits non-zero if it finds a crash.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const seconds = Number(process.argv[2] || 60);
const build = path.join(root, 'build-fuzz');
const shared = process.env.RWKV_SHARED_DIR || path.join(root, '..', 'shared');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

run('cmake', ['-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DCMAKE_CXX_COMPILER=clang++',
  '-DRWKV_BUILD_FUZZ=ON', '-DRWKV_BUILD_TESTS=OFF', '-DRWKV_BUILD_BENCH=OFF']);
run('cmake', ['--build', build, '--target', 'fuzz_rwkv_bin', '-j', String(os.cpus().length)]);

const corpus = path.join(build, 'corpus');
fs.mkdirSync(corpus, { recursive: true });
const tinyDir = path.join(shared, 'models', 'tiny');
for (const f of fs.readdirSync(tinyDir).filter((f) => f.endsWith('.bin') && f.startsWith('tiny-') && /Q5_1|FP16/.test(f))) {
  // Small seeds keep each run fast: the header and the first records are where parsing decisions live.
  fs.writeFileSync(path.join(corpus, f), fs.readFileSync(path.join(tinyDir, f)).subarray(0, 64 * 1024));
}
run(path.join(build, 'fuzz_rwkv_bin'), [corpus, `-max_total_time=${seconds}`, '-max_len=131072', '-rss_limit_mb=2048', '-print_final_stats=1']);
