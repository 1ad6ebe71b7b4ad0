'use strict';
// Readers for the two files state-tuned RWKV initial states come in, returning {name: {dtype, shape,
// data: Buffer}} for every tensor:
//  * safetensors (.st, .safetensors): u64 header length, JSON header, raw data.
//  * PyTorch checkpoints (.pth): a ZIP (entries STORED) holding data.pkl (pickle protocol 2) and one
//    file per storage. Only the pickle opcodes torch.save emits for a dict of tensors are understood;
//    anything else is refused with a clear error.
const fs = require('fs');
const { RwkvError } = require('./errors');

const fail = (file, msg) => new RwkvError(`${file}: ${msg}`, 'E_FORMAT');

function readSafetensors(file, buf) {
  if (buf.length < 8) throw fail(file, 'too short for a safetensors header');
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw fail(file, 'bad safetensors header length');
  let header;
  try { header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')); } catch { throw fail(file, 'corrupt safetensors header'); }
  const base = 8 + n;
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = t.data_offsets || [];
    if (!(begin >= 0 && end >= begin && base + end <= buf.length)) throw fail(file, `tensor ${name}: data outside the file`);
    out[name] = { dtype: t.dtype, shape: t.shape, data: buf.subarray(base + begin, base + end) };
  }
  return out;
}

// ---- ZIP (central directory; STORED entries only) ----
function readZip(file, buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw fail(file, 'not a ZIP file (no end-of-central-directory record)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) throw fail(file, 'ZIP64 archives are not supported for state files');
  const entries = {};
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw fail(file, 'corrupt ZIP central directory');
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (method !== 0) throw fail(file, `ZIP entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) throw fail(file, `corrupt ZIP local header for ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + size > buf.length) throw fail(file, `ZIP entry ${name} runs past the end of the file`);
    entries[name] = buf.subarray(start, start + size);
  }
  return entries;
}

// ---- pickle (protocol 2 subset) ----
const STORAGE_DTYPES = { FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16' };
class Global { constructor(module, name) { this.module = module; this.name = name; } }
class Reduced { constructor(fn, args) { this.fn = fn; this.args = args; } }

function unpickle(file, data) {
  const stack = [], marks = [], memo = new Map();
  let p = 0;
  const u8 = () => data[p++];
  const readLine = () => { const e = data.indexOf(0x0a, p); const s = data.subarray(p, e).toString('utf8'); p = e + 1; return s; };
  const popMark = () => { const m = marks.pop(); return stack.splice(m); };
  for (;;) {
    if (p >= data.length) throw fail(file, 'pickle ended without STOP');
    const op = u8();
    switch (op) {
      case 0x80: p++; break; // PROTO
      case 0x2e: return stack.pop(); // STOP
      case 0x63: { const mod = readLine(); const name = readLine(); stack.push(new Global(mod, name)); break; } // GLOBAL
      case 0x71: memo.set(u8(), stack[stack.length - 1]); break; // BINPUT
      case 0x72: memo.set(data.readUInt32LE(p), stack[stack.length - 1]); p += 4; break; // LONG_BINPUT
      case 0x68: stack.push(memo.get(u8())); break; // BINGET
      case 0x6a: stack.push(memo.get(data.readUInt32LE(p))); p += 4; break; // LONG_BINGET
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([stack.pop()]); break; // TUPLE1
      case 0x86: { const b = stack.pop(), a = stack.pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = stack.pop(), b = stack.pop(), a = stack.pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x73: { const v = stack.pop(), k = stack.pop(); stack[stack.length - 1].set(k, v); break; } // SETITEM
      case 0x75: { const items = popMark(); const d = stack[stack.length - 1]; for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]); break; } // SETITEMS
      case 0x61: { const v = stack.pop(); stack[stack.length - 1].push(v); break; } // APPEND
      case 0x65: { const items = popMark(); stack[stack.length - 1].push(...items); break; } // APPENDS
      case 0x58: { const n = data.readUInt32LE(p); p += 4; stack.push(data.subarray(p, p + n).toString('utf8')); p += n; break; } // BINUNICODE
      case 0x4a: stack.push(data.readInt32LE(p)); p += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(data.readUInt16LE(p)); p += 2; break; // BININT2
      case 0x8a: { const n = u8(); let v = 0n; for (let i = 0; i < n; i++) v |= BigInt(data[p + i]) << BigInt(8 * i); p += n; stack.push(Number(v)); break; } // LONG1
      case 0x47: stack.push(data.readDoubleBE(p)); p += 8; break; // BINFLOAT
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4e: stack.push(null); break; // NONE
      case 0x52: { const args = stack.pop(), fn = stack.pop(); stack.push(reduce(file, fn, args)); break; } // REDUCE
      case 0x62: stack.pop(); break; // BUILD: state of OrderedDict/params is not needed
      case 0x51: { const pid = stack.pop(); stack.push({ storage: pid }); break; } // BINPERSID
      default: throw fail(file, `unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}

function reduce(file, fn, args) {
  if (!(fn instanceof Global)) throw fail(file, 'unexpected REDUCE');
  const name = `${fn.module}.${fn.name}`;
  if (name === 'collections.OrderedDict') return new Map();
  if (name === 'torch._utils._rebuild_tensor_v2') {
    const [storage, offset, shape, stride] = args;
    return { tensor: true, storage: storage.storage, offset, shape, stride };
  }
  if (name === 'torch._utils._rebuild_parameter') return args[0];
  return new Reduced(fn, args);
}

function readPth(file, buf) {
  const entries = readZip(file, buf);
  const pklName = Object.keys(entries).find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pklName) throw fail(file, 'no data.pkl in the archive: not a PyTorch checkpoint');
  const dir = pklName.slice(0, pklName.length - 'data.pkl'.length);
  let root = unpickle(file, entries[pklName]);
  if (root instanceof Map && root.has('state_dict')) root = root.get('state_dict');
  if (!(root instanceof Map)) throw fail(file, 'the checkpoint is not a dict of tensors');
  const out = {};
  for (const [name, t] of root) {
    if (!t || !t.tensor) continue;
    const [, storageClass, key] = t.storage;
    const dtype = STORAGE_DTYPES[storageClass && storageClass.name];
    if (!dtype) throw fail(file, `tensor ${name}: storage type ${storageClass && storageClass.name} is not supported (float, half, bfloat16)`);
    const size = dtype === 'F32' ? 4 : 2;
    // Contiguous row-major tensors only: that is what torch.save writes for these states.
    let expect = 1;
    for (let i = t.shape.length - 1; i >= 0; i--) {
      if (t.shape[i] !== 1 && t.stride[i] !== expect) throw fail(file, `tensor ${name} is not contiguous`);
      expect *= t.shape[i];
    }
    const raw = entries[`${dir}data/${key}`];
    if (!raw) throw fail(file, `tensor ${name}: storage ${key} is missing`);
    const begin = t.offset * size, end = begin + expect * size;
    if (end > raw.length) throw fail(file, `tensor ${name}: data outside its storage`);
    out[name] = { dtype, shape: t.shape, data: raw.subarray(begin, end) };
  }
  return out;
}

/** Tensors of a .pth or safetensors file: {name: {dtype: 'F32'|'F16'|'BF16', shape, data}}. */
function readTensorFile(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { throw new RwkvError(`cannot read ${file}: ${e.message}`, 'E_IO'); }
  return buf.length >= 4 && buf.readUInt32LE(0) === 0x04034b50 ? readPth(file, buf) : readSafetensors(file, buf);
}

/** Widens F32/F16/BF16 little-endian data to a Float32Array. */
function toFloat32(file, name, t) {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') { Buffer.from(out.buffer).set(t.data.subarray(0, n * 4)); return out; }
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = t.data.readUInt16LE(2 * i);
    if (t.dtype === 'BF16') { u32[i] = h << 16; continue; }
    if (t.dtype !== 'F16') throw fail(file, `tensor ${name}: dtype ${t.dtype} is not supported`);
    const sign = (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp === 0) out[i] = (sign ? -1 : 1) * mant * 2 ** -24;
    else if (exp === 31) u32[i] = sign | 0x7f800000 | (mant << 13);
    else u32[i] = sign | ((exp + 112) << 23) | (mant << 13);
  }
  return out;
}

module.exports = { readTensorFile, toFloat32 };
