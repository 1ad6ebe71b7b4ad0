'use strict';
// gpuOffload: how many layers run on the GPU. RWKV-cpp-node took a layer count or a percentage of the
// layers ('50%'); we also take 'auto' (as many as fit in the GPU's memory), 'max' (all, with the head),
// and an object {layers, device, required} where required: true makes a missing GPU an error instead
// of a warning and a CPU run.
const fs = require('fs');
const check = require('./validate');

const AUTO = -1;

function parseLayers(value, name) {
  if (typeof value === 'number') return check.number(name, value, { min: 0, max: 4096, integer: true });
  if (typeof value === 'string') {
    if (value === 'auto') return AUTO;
    if (value === 'max') return 'max';
    const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
    if (m) {
      const pct = Number(m[1]);
      if (pct > 100) throw new RangeError(`${name} must be at most 100%, got ${value}`);
      return { percent: pct };
    }
    if (/^\d+$/.test(value.trim())) return Number(value.trim());  // RWKV-cpp-node's config.json stores strings
  }
  throw check.invalid(name, "a layer count, a percentage like '50%', 'auto' or 'max'", value);
}

/** Normalises the constructor options into {layers, device, required}; layers may still be relative. */
function normalizeGpuOffload(gpuOffload, gpuDevice) {
  let spec = { layers: 0, device: -1, required: false };
  if (gpuOffload !== undefined && gpuOffload !== null && gpuOffload !== false) {
    if (typeof gpuOffload === 'object') {
      spec.layers = gpuOffload.layers === undefined ? 'max' : parseLayers(gpuOffload.layers, 'gpuOffload.layers');
      if (gpuOffload.device !== undefined) spec.device = check.number('gpuOffload.device', gpuOffload.device, { min: 0, integer: true });
      if (gpuOffload.required !== undefined) spec.required = check.boolean('gpuOffload.required', gpuOffload.required);
    } else {
      spec.layers = parseLayers(gpuOffload, 'gpuOffload');
    }
  }
  if (gpuDevice !== undefined && gpuDevice !== null) spec.device = check.number('gpuDevice', gpuDevice, { min: 0, integer: true });
  return spec;
}

/** Resolves 'max' and percentages against the model's layer count, read from the file header. */
function resolveGpuLayers(spec, modelPath) {
  if (typeof spec.layers === 'number') return spec.layers;
  const fd = fs.openSync(modelPath, 'r');
  const header = Buffer.alloc(24);
  try { fs.readSync(fd, header, 0, 24, 0); } finally { fs.closeSync(fd); }
  const nLayer = header.readUInt32LE(16);
  if (spec.layers === 'max') return nLayer;
  return Math.floor((nLayer * spec.layers.percent) / 100);
}

module.exports = { normalizeGpuOffload, resolveGpuLayers, AUTO };
