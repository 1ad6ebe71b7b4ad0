'use strict';
// State-tuned initial states: RWKV's state tuning trains `blocks.N.att.time_state` ([H, S, S] per
// layer) and saves them in a .pth or safetensors file. Loaded into our state layout they replace the
// initial WKV matrices (token-shift parts stay zero), so a completion starts "in character".
// Orientation: the training kernel indexes time_state as [head][value][key]. v5/v6 states are
// [head][key][value] here, so they are transposed (as the rwkv pip package does); v7 states are
// [head][value][key] already.
const { RwkvError } = require('./errors');
const { readTensorFile, toFloat32 } = require('./torch-file');

function stateFromTuning(file, info) {
  if (info.versionMajor < 5) throw new RwkvError('state tuning needs an RWKV v5, v6 or v7 model', 'E_ARGUMENT');
  const tensors = readTensorFile(file);
  const C = info.nEmbd, S = info.headSize, H = info.nHead;
  const perLayer = (2 + S) * C;
  const state = new Float32Array(info.stateSize);
  let found = 0;
  for (let l = 0; l < info.nLayer; l++) {
    const name = `blocks.${l}.att.time_state`;
    const t = tensors[name];
    if (!t) throw new RwkvError(`${file}: ${name} is missing (a state-tuning file has one time_state per layer)`, 'E_MISSING_TENSOR');
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== H * S * S) throw new RwkvError(`${file}: ${name} has shape [${t.shape}], expected [${H}, ${S}, ${S}] for this model`, 'E_SHAPE');
    const ts = toFloat32(file, name, t);
    const base = l * perLayer + 2 * C;
    const transpose = info.versionMajor < 7;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < S; j++) {
          const src = h * S * S + i * S + j;  // file: [h][value i][key j]
          const dst = transpose ? h * S * S + j * S + i : src;
          state[base + dst] = ts[src];
        }
      }
    }
    found++;
  }
  return { state, layers: found };
}

module.exports = { stateFromTuning };
