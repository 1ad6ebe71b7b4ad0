'use strict';
// Loads the native addon: a prebuilt binary from prebuilds/<platform>-<arch>/ if one fits, else the
// one `npm install` built. If neither loads, one message lists what to do.
const path = require('path');
const { RwkvError } = require('./errors');

function load() {
  try {
    return require('node-gyp-build')(path.join(__dirname, '..'));
  } catch (err) {
    throw new RwkvError(
      `rwkv-node could not load its native addon (${err.message}).\n` +
        'Possible solutions:\n' +
        '- Rebuild it for this Node version and platform: npm rebuild rwkv-node (needs a C++20 compiler and Python)\n' +
        `- Check that prebuilds/${process.platform}-${process.arch}/ exists for your platform\n` +
        '- Reinstall the package: npm install rwkv-node',
      'E_ADDON',
    );
  }
}

const addon = load();
addon.initialize(RwkvError);

module.exports = addon;
