#!/usr/bin/env node
// Prints the engine sources from native/sources.txt for binding.gyp, so node-gyp and CMake always
// build the same list. `--simd` prints only the *_avx512.cpp files (built with AVX-512 flags in their
// own target); without it, every other file.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const simd = process.argv.includes('--simd');
const lines = fs.readFileSync(path.join(root, 'native', 'sources.txt'), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const isSimd = (f) => /_avx512\.cpp$/.test(f);
process.stdout.write(lines.filter((f) => isSimd(f) === simd).join(' '));
