#!/usr/bin/env node
// Builds the engine with CMake (static library, GoogleTest suite, benchmarks, tools) in build-cmake/
// and runs the C++ tests through ctest. Part of `npm test`.
'use strict';
const { execFileSync } = require('child_process');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const build = path.join(root, 'build-cmake');
const jobs = String(Math.max(1, os.cpus().length));
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run('cmake', ['-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=Release']);
run('cmake', ['--build', build, '-j', jobs]);
run('ctest', ['--test-dir', build, '--output-on-failure', '-j', jobs]);
