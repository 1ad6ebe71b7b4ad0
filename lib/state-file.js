'use strict';
// State files: a small header that identifies the model a state belongs to, then the state itself.
//
//   bytes 0..7   "RWKVSTAT"
//   bytes 8..11  uint32 LE: length N of the JSON header
//   N bytes      JSON {format: 1, version, nLayer, nEmbd, headSize, nVocab, stateSize, fingerprint,
//                      tokenCount, tokens?}
//   stateSize × float32 LE
// The fingerprint hashes the model's tensor names, shapes, types and samples of their bytes, so a state
// made for another model (or another quantization of it) is refused instead of producing garbage.
const fs = require('fs');
const { RwkvError } = require('./errors');

const MAGIC = Buffer.from('RWKVSTAT');

function identity(info, fingerprint) {
  return { version: info.version, nLayer: info.nLayer, nEmbd: info.nEmbd, headSize: info.headSize, nVocab: info.nVocab, stateSize: info.stateSize, fingerprint };
}

function writeStateFile(path, state, info, fingerprint, { tokenCount = 0, tokens } = {}) {
  const header = Buffer.from(JSON.stringify({ format: 1, ...identity(info, fingerprint), tokenCount, ...(tokens ? { tokens: Array.from(tokens) } : {}) }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const body = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
  // Write beside, then rename: a crash or a full disk never leaves a half state under the real name.
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, len, header, body]));
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new RwkvError(`cannot write state file ${path}: ${e.message}`, 'E_IO');
  }
}

function readStateFile(path, info, fingerprint) {
  let buf;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new RwkvError(`cannot read state file ${path}: ${e.message}`, 'E_IO');
  }
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) throw new RwkvError(`${path} is not an rwkv-node state file`, 'E_FORMAT');
  const n = buf.readUInt32LE(8);
  if (12 + n > buf.length) throw new RwkvError(`${path}: truncated header`, 'E_FORMAT');
  let header;
  try {
    header = JSON.parse(buf.subarray(12, 12 + n).toString('utf8'));
  } catch {
    throw new RwkvError(`${path}: corrupt header`, 'E_FORMAT');
  }
  const want = identity(info, fingerprint);
  for (const key of Object.keys(want)) {
    if (header[key] !== want[key]) {
      throw new RwkvError(
        `${path} holds a state for another model (${key}: ${JSON.stringify(header[key])} in the file, ${JSON.stringify(want[key])} for this model ${info.path})`,
        'E_STATE_MISMATCH',
      );
    }
  }
  const bytes = info.stateSize * 4;
  if (buf.length !== 12 + n + bytes) throw new RwkvError(`${path}: expected ${bytes} bytes of state after the header, found ${buf.length - 12 - n}`, 'E_FORMAT');
  const state = new Float32Array(info.stateSize);
  Buffer.from(state.buffer).set(buf.subarray(12 + n));
  return { state, tokenCount: header.tokenCount || 0, tokens: header.tokens };
}

module.exports = { writeStateFile, readStateFile };
