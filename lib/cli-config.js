'use strict';
// ~/.rwkv/config.json, as RWKV-cpp-node wrote it: {model, threads, gpuOffload}. `model` is a file name
// in the models folder (RWKV-cpp-node's form) or an absolute path (when --dir put it elsewhere).
const fs = require('fs');
const os = require('os');
const path = require('path');

// Same rule as lib/tokenizer.js (which finds vocabularies there), kept here so that commands that
// only download (pull, --setup) do not load the native addon.
const rwkvHome = () => process.env.RWKV_HOME || path.join(os.homedir(), '.rwkv');

const configPath = () => path.join(rwkvHome(), 'config.json');

function readConfig() {
  const file = configPath();
  if (!fs.existsSync(file)) return {};
  try {
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    return cfg && typeof cfg === 'object' ? cfg : {};
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${err.message}); fix it or delete it and run \`rwkv-node --setup\``);
  }
}

/** Merges `changes` into the config file (other keys, including ones we do not know, are kept). */
function writeConfig(changes) {
  const file = configPath();
  const cfg = { ...readConfig(), ...changes };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Write then rename, so an interrupted write never leaves half a JSON file.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(cfg, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

/** The configured model's path, or null when none is configured. */
function configuredModelPath(cfg = readConfig()) {
  if (!cfg.model || typeof cfg.model !== 'string') return null;
  return path.isAbsolute(cfg.model) ? cfg.model : path.join(rwkvHome(), cfg.model);
}

module.exports = { rwkvHome, configPath, readConfig, writeConfig, configuredModelPath };
