'use strict';
// Tokenizer: the C++ tokenizers (World, GPT-NeoX 20B, bytes) behind a small JS class, and the rule
// that picks one for a model from its vocabulary size.
const fs = require('fs');
const os = require('os');
const path = require('path');
const addon = require('./binding');
const { RwkvError } = require('./errors');
const check = require('./validate');

const WORLD_VOCAB = 'rwkv_vocab_v20230424.txt';
const NEOX_JSON = '20B_tokenizer.json';

class Tokenizer {
  /** @private */
  constructor(native) {
    this._native = native;
    this.kind = native.kind();
    this.vocabSize = native.vocabSize();
  }

  /** The RWKV World tokenizer (all World/G1 models, v5-v7) from rwkv_vocab_v20230424.txt. */
  static world(vocabPath) {
    return new Tokenizer(addon.loadTokenizer('world', check.string('vocabPath', vocabPath)));
  }

  /** The GPT-NeoX 20B BPE tokenizer (Pile and Raven v4 models) from a tokenizer.json. */
  static neox(jsonPath) {
    return new Tokenizer(addon.loadTokenizer('neox', check.string('jsonPath', jsonPath)));
  }

  /** Byte-level tokenizer: token id = byte value (vocabulary 256, rwkv.cpp's tiny models). */
  static bytes() {
    return new Tokenizer(addon.loadTokenizer('bytes'));
  }

  /** Picks the tokenizer from the file: a .json is NeoX-style, a .txt the World vocabulary. */
  static fromFile(filePath) {
    check.string('path', filePath);
    return filePath.endsWith('.json') ? Tokenizer.neox(filePath) : Tokenizer.world(filePath);
  }

  /** @returns {Uint32Array} token ids */
  encode(text) {
    return this._native.encode(check.string('text', text));
  }

  /** Decodes ids to text. Bytes that do not form whole UTF-8 characters become U+FFFD. */
  decode(ids) {
    return this.decodeBytes(ids).toString('utf8');
  }

  /** Decodes ids to raw bytes (a token may end inside a UTF-8 character). */
  decodeBytes(ids) {
    const arr = ids instanceof Uint32Array ? ids : check.tokens('ids', ids, this.vocabSize);
    return this._native.decode(arr);
  }
}

function rwkvHome() {
  return process.env.RWKV_HOME || path.join(os.homedir(), '.rwkv');
}

/**
 * The tokenizer for a model: `option` may be a Tokenizer, a kind ('world', 'neox', 'bytes') or a
 * file path. Without it, the vocabulary size decides (65536 World, 50277 NeoX, 256 bytes) and the
 * vocabulary file is looked for beside the model, then in ~/.rwkv/.
 */
function resolveTokenizer(option, modelPath, nVocab) {
  if (option instanceof Tokenizer) return option;
  if (typeof option === 'string' && !['world', 'neox', 'bytes'].includes(option)) return Tokenizer.fromFile(option);
  const kind = option || (nVocab === 65536 ? 'world' : nVocab === 50277 ? 'neox' : nVocab === 256 ? 'bytes' : null);
  if (!kind) {
    throw new RwkvError(
      `cannot choose a tokenizer for a vocabulary of ${nVocab} tokens; pass the tokenizer option (a path to a vocabulary file, or 'world' / 'neox' / 'bytes')`,
      'E_TOKENIZER',
    );
  }
  if (kind === 'bytes') return Tokenizer.bytes();
  const file = kind === 'world' ? WORLD_VOCAB : NEOX_JSON;
  const candidates = [path.join(path.dirname(modelPath), file), path.join(rwkvHome(), file)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new RwkvError(
      `this model needs the ${kind === 'world' ? 'RWKV World' : 'GPT-NeoX 20B'} tokenizer file ${file}, which is not in ${candidates.map((c) => path.dirname(c)).join(' or ')}. ` +
        `Run \`npx rwkv-node --setup\` to download it, or pass {tokenizer: '/path/to/${file}'}`,
      'E_TOKENIZER',
    );
  }
  return kind === 'world' ? Tokenizer.world(found) : Tokenizer.neox(found);
}

module.exports = { Tokenizer, resolveTokenizer, rwkvHome, WORLD_VOCAB, NEOX_JSON };
