#!/usr/bin/env node
// Prints the engine sources from native/sources.txt for binding.gyp, so node-gyp and CMake always
// build the same list. `--simd` prints only the *_avx512.cpp files (built with AVX-512 flags in their
// own target), `--vbmi` the *_vbmi_avx512.cpp ones among them (AVX-512 with VBMI and BITALG, a third
// target); without either, every other file.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const simd = process.argv.includes('--simd');
const vbmi = process.argv.includes('--vbmi');
const lines = fs.readFileSync(path.join(root, 'native', 'sources.txt'), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const isVbmi = (f) => /_vbmi_avx512\.cpp$/.test(f);
const isSimd = (f) => /_avx512\.cpp$/.test(f) && !isVbmi(f);
const pick = vbmi ? isVbmi : simd ? isSimd : (f) => !isSimd(f) && !isVbmi(f);
process.stdout.write(lines.filter(pick).join(' '));
