#!/usr/bin/env node
// Copies the addon built by node-gyp into prebuilds/<platform>-<arch>/node.napi.node, where
// node-gyp-build finds it at install time (so users on that platform need no compiler). The addon
// uses Node-API version 8 only, so one binary serves every Node version from 18 on.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'build', 'Release', 'rwkv_node.node');
if (!fs.existsSync(built)) {
  console.error('build the addon first: npm run build');
  process.exit(1);
}
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(built, path.join(dir, 'node.napi.node'));
console.log(`wrote ${path.relative(root, path.join(dir, 'node.napi.node'))}`);
