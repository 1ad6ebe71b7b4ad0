'use strict';
// The models `rwkv-node --setup` / `rwkv-node pull` offer: current RWKV-7 (G1 and World) files first,
// then RWKV-cpp-node's RWKV-4 Raven list (A.11) for compatibility. All are rwkv.cpp `.bin` files,
// the format the engine reads.
//
// Entry fields: id (what --model takes), label, url, file (local name), bytes (size; exact when
// `bytesExact`, else an estimate used for display), sha256 (null where not known), format (data type),
// version (RWKV architecture), params, vocab (the tokenizer vocabulary it needs: 'world' | 'neox' | 'bytes').
//
// RWKV_CATALOG=<file.json> replaces this list ({models: [...], vocabs: {...}} or just the models
// array): for tests, private mirrors, and new releases before the package is updated.
const fs = require('fs');

const HF = 'https://huggingface.co';

const VOCABS = {
  // Sizes and hashes of the upstream files (identical copies ship with the test data).
  world: {
    file: 'rwkv_vocab_v20230424.txt',
    url: 'https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/rwkv_vocab_v20230424.txt',
    bytes: 1093733,
    sha256: 'e6dee3d4e31b4d5c40ac99508ac6c701ceef4bed681bf2167ce9a908552bca89',
  },
  neox: {
    file: '20B_tokenizer.json',
    url: 'https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/20B_tokenizer.json',
    bytes: 2467981,
    sha256: '56ac4821e129d2c520fdaba60abd920fa852ada51b45c0dd52bbb6bd8c985ade',
  },
};

// RWKV-7 files converted to rwkv.cpp format (convert_pytorch_to_ggml.py + quantize.py) from BlinkDL's
// .pth releases. Sizes are estimates from the parameter count (Q8_0 = 8.5 bits per weight, FP16 = 16);
// the server's Content-Length is checked instead, and no hash is pinned until the files are.
const RWKV7_REPO = `${HF}/RWKV/rwkv-7-ggml/resolve/main`;
const v7 = (id, label, stem, params, format) => {
  const bitsPerWeight = { FP16: 16, Q8_0: 8.5, Q5_1: 6, Q4_0: 4.5 }[format];
  const file = `${stem}-${format}.bin`;
  return {
    id, label, url: `${RWKV7_REPO}/${file}`, file, bytes: Math.round((params * bitsPerWeight) / 8), bytesExact: false,
    sha256: null, format, version: '7', params, vocab: 'world',
  };
};

const RAVEN = `${HF}/latestissue/rwkv-4-raven-ggml-quantized/resolve/main`;
const raven = (id, label, remote, file, bytes, sha256, format, params) => ({
  id, label, url: `${RAVEN}/${encodeURIComponent(remote)}`, file, bytes, bytesExact: true, sha256, format, version: '4', params, vocab: 'neox',
});

const MODELS = [
  v7('g1-1.5b-q8', 'RWKV-7 G1 1.5B (Q8_0, recommended: fast, good quality)', 'rwkv7-g1-1.5b-20250429-ctx4096', 1.53e9, 'Q8_0'),
  v7('g1-2.9b-q8', 'RWKV-7 G1 2.9B (Q8_0, smarter, slower)', 'rwkv7-g1-2.9b-20250519-ctx4096', 2.95e9, 'Q8_0'),
  v7('g0-7.2b-q8', 'RWKV-7 G0 7.2B (Q8_0, smartest, needs 8 GB)', 'rwkv7-g0-7.2b-20250722-ctx4096', 7.2e9, 'Q8_0'),
  v7('g1-0.4b-q8', 'RWKV-7 G1 0.4B (Q8_0, small and quick)', 'rwkv7-g1-0.4b-20250324-ctx4096', 0.45e9, 'Q8_0'),
  v7('g1-0.1b-fp16', 'RWKV-7 G1 0.1B (FP16, tiny; for testing)', 'rwkv7-g1-0.1b-20250307-ctx4096', 0.19e9, 'FP16'),
  v7('world-1.5b-q8', 'RWKV-7 World 1.5B v3 (Q8_0)', 'RWKV-x070-World-1.5B-v3-20250127-ctx4096', 1.53e9, 'Q8_0'),
  v7('world-2.9b-q8', 'RWKV-7 World 2.9B v3 (Q8_0)', 'RWKV-x070-World-2.9B-v3-20250211-ctx4096', 2.95e9, 'Q8_0'),
  raven('raven-1b5-q8', 'RWKV-4 Raven 1B5 v12 (Q8_0, older)', 'q8_0-RWKV-4-Raven-1B5-v12-Eng98%-Other2%-20230520-ctx4096.bin', 'raven_1b5_v12_Q8_0.bin', 1804494421, 'f8e9d1c0c4d258f702003342017c27c7687b7159568fb47fc13f4c994f9a98d2', 'Q8_0', 1.5e9),
  // RWKV-cpp-node saved this one as raven_1b5_v12_Q8_0.bin too, overwriting the 1B5; it gets its own name here.
  raven('raven-3b-q8', 'RWKV-4 Raven 3B v12 (Q8_0, older)', 'q8_0-RWKV-4-Raven-3B-v12-Eng98%-Other2%-20230520-ctx4096.bin', 'raven_3b_v12_Q8_0.bin', 3415197117, '4d7b68871deaf1c3075964377f65dc5168608c0b272ca3edfca07fdfa8be6b05', 'Q8_0', 3e9),
  raven('raven-7b-q8', 'RWKV-4 Raven 7B v12 (Q8_0, older)', 'q8_0-RWKV-4-Raven-7B-v12-Eng98%-Other2%-20230521-ctx8192.bin', 'raven_7b_v12_Q8_0.bin', 8245124541, 'e7791301a8373f34b4b3e70eb49e8a703f1286d40216e52329530bd103a80f80', 'Q8_0', 7e9),
  raven('raven-14b-q8', 'RWKV-4 Raven 14B v12 (Q8_0, older)', 'q8_0-RWKV-4-Raven-14B-v12-Eng98%-Other2%-20230523-ctx8192.bin', 'raven_14b_v12_Q8_0.bin', 15522252069, '0048bc57136302d7f4de9e51437afae0b0c86962bc0d94e0494261da19d076dc', 'Q8_0', 14e9),
  raven('raven-1b5-q5', 'RWKV-4 Raven 1B5 v12 (Q5_1, older)', 'q5_1-RWKV-4-Raven-1B5-v12-Eng98%-Other2%-20230520-ctx4096.bin', 'raven_1b5_v12_Q5_1.bin', 1395549781, '7172c0431fde9614677f74f15339c5d8095893e0377d71167547ed955e916770', 'Q5_1', 1.5e9),
  raven('raven-3b-q5', 'RWKV-4 Raven 3B v12 (Q5_1, older)', 'q5_1-RWKV-4-Raven-3B-v12-Eng98%-Other2%-20230520-ctx4096.bin', 'raven_3b_v12_Q5_1.bin', 2563229117, '921eadfe65ebb763012eb3695ed190c8acd61df8e370e905656696d9a29756dc', 'Q5_1', 3e9),
  raven('raven-7b-q5', 'RWKV-4 Raven 7B v12 (Q5_1, older)', 'q5_1-RWKV-4-Raven-7B-v12-Eng98%-Other2%-20230521-ctx8192.bin', 'raven_7b_v12_Q5_1.bin', 6064086461, 'f4122fee224498cd62dd3c2e232f4c7b0d2a9e8b3d656fb03e321b92480f67e3', 'Q5_1', 7e9),
  raven('raven-14b-q5', 'RWKV-4 Raven 14B v12 (Q5_1, older)', 'q5_1-RWKV-4-Raven-14B-v12-Eng98%-Other2%-20230523-ctx8192.bin', 'raven_14b_v12_Q5_1.bin', 12292085029, 'd272aec19e2b0414a8ac4ddfd48ef5c03d3dac060b4a35abd9c596b42fe7206e', 'Q5_1', 14e9),
];

/** Memory a model needs: the mapped weights plus a margin for the state, logits and the runtime. */
function memoryNeeded(entry) {
  return Math.round(entry.bytes * 1.05 + 200 * 2 ** 20);
}

/** The built-in catalogue, or the one RWKV_CATALOG names. */
function loadCatalog(env = process.env) {
  if (!env.RWKV_CATALOG) return { models: MODELS, vocabs: VOCABS };
  let data;
  try {
    data = JSON.parse(fs.readFileSync(env.RWKV_CATALOG, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the model catalogue RWKV_CATALOG=${env.RWKV_CATALOG}: ${err.message}`);
  }
  const models = Array.isArray(data) ? data : data.models;
  if (!Array.isArray(models)) throw new Error(`RWKV_CATALOG=${env.RWKV_CATALOG} must hold an array of models or {models: [...]}`);
  for (const m of models) {
    if (!m || typeof m.id !== 'string' || typeof m.url !== 'string' || typeof m.file !== 'string') {
      throw new Error(`RWKV_CATALOG entry ${JSON.stringify(m)} needs at least id, url and file`);
    }
  }
  return { models, vocabs: { ...VOCABS, ...(data.vocabs || {}) } };
}

/**
 * Applies a mirror (--mirror or RWKV_MIRROR, e.g. https://hf-mirror.com): the scheme and host of a
 * Hugging Face URL are replaced by the mirror's base, keeping the path, as HF mirrors copy its layout.
 * Other URLs (the vocabularies on GitHub) are left alone.
 */
function withMirror(url, mirror) {
  if (!mirror) return url;
  const u = new URL(url);
  if (u.origin !== HF) return url;
  return mirror.replace(/\/+$/, '') + u.pathname + u.search;
}

module.exports = { MODELS, VOCABS, loadCatalog, withMirror, memoryNeeded };
