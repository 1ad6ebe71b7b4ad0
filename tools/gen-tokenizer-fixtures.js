#!/usr/bin/env node
// Writes native/tests/data/tokenizer-golden.json: golden token ids the C++ tokenizer tests compare
// against exactly.
//
//   NeoX ids come from @huggingface/tokenizers (the pure-JS port of HF tokenizers), loaded with
//   the shared 20B_tokenizer.json.
//   World ids come from the deliberately slow, independent reference below: its own parser of the
//   vocab file and a greedy longest match that tries every length from the longest token down.
//   It shares no code or structure with the C++ trie, so agreement means something.
//
// Setup (the .dev folder is git-ignored):
//   mkdir -p .dev && cd .dev && npm init -y && npm install @huggingface/tokenizers
// Run from the repository root:
//   node tools/gen-tokenizer-fixtures.js [shared dir, default ../shared or $RWKV_SHARED_DIR]
'use strict';

const fs = require('fs');
const path = require('path');

const repoRoot = path.resolve(__dirname, '..');
const sharedDir = process.argv[2] || process.env.RWKV_SHARED_DIR || path.join(repoRoot, '..', 'shared');
const outFile = path.join(repoRoot, 'native', 'tests', 'data', 'tokenizer-golden.json');
const { Tokenizer } = require(path.join(repoRoot, '.dev', 'node_modules', '@huggingface', 'tokenizers'));

// ---------------------------------------------------------------- World reference (slow, independent)

// Decodes a Python literal from the vocab file into a Buffer of bytes.
function pythonLiteralBytes(literal) {
  const isBytes = literal.startsWith('b');
  const body = literal.slice(isBytes ? 2 : 1, -1);
  const out = [];
  const pushCodePoint = (cp) => {
    if (isBytes) out.push(cp);
    else out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  };
  const simple = { n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11 };
  const chars = Array.from(body); // by code point, so raw non-ASCII text stays whole
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c !== '\\') {
      out.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const e = chars[++i];
    if (e in simple) out.push(simple[e]);
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      pushCodePoint(parseInt(chars.slice(i + 1, i + 1 + n).join(''), 16));
      i += n;
    } else throw new Error(`unknown escape \\${e} in ${literal}`);
  }
  return Buffer.from(out);
}

function loadWorldVocab(file) {
  const byBytes = new Map(); // latin1 string of the token bytes -> id
  let longest = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const first = line.indexOf(' ');
    const last = line.lastIndexOf(' ');
    const id = Number(line.slice(0, first));
    const bytes = pythonLiteralBytes(line.slice(first + 1, last));
    if (bytes.length !== Number(line.slice(last + 1))) throw new Error(`byte length mismatch: ${line}`);
    byBytes.set(bytes.toString('latin1'), id);
    longest = Math.max(longest, bytes.length);
  }
  return { byBytes, longest };
}

function worldEncode(vocab, bytes) {
  const text = bytes.toString('latin1'); // one char per byte
  const ids = [];
  for (let pos = 0; pos < text.length;) {
    for (let len = Math.min(vocab.longest, text.length - pos); len > 0; len--) {
      const id = vocab.byBytes.get(text.slice(pos, pos + len));
      if (id !== undefined) {
        ids.push(id);
        pos += len;
        break;
      }
    }
  }
  return ids;
}

// ---------------------------------------------------------------- test texts

const longMixed = [
  'The quick brown fox jumps over the lazy dog. It\'s 3.14159 o\'clock, isn\'t it? We\'ll see; they\'re sure.',
  '人工智能正在改变世界。大型语言模型可以生成文本、翻译语言和回答问题。',
  'こんにちは、世界！今日はいい天気ですね。カタカナとひらがなと漢字。',
  'Здравствуй, мир! Ελληνικά κείμενα. مرحبا بالعالم. שלום עולם. 안녕하세요 세계.',
  'function add(a, b) {\n    return a + b;\n}\n\nconsole.log(add(1, 2)); // 3\n',
  'def main():\n\tfor i in range(10):\n\t\tprint(f"{i:>4}")\n',
  'Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇯🇵 — done…',
  '   leading spaces, trailing spaces   \n\n\n\n  \t \r\n end',
].join('\n');

const textCases = [
  ['empty', ''],
  ['english', 'Hello world! This is a simple English sentence, with punctuation.'],
  ['contractions', "I'm sure you'd say it's what we've done; they'll know they're right. 'Quoted' DON'T"],
  ['numbers', 'In 2024, 1234567890 people paid $3.50 each (≈ ½ of ¾ ²³).'],
  ['chinese', '你好，世界！这是一个测试句子，包含中文标点符号。'],
  ['japanese', '吾輩は猫である。名前はまだ無い。カタカナ、ひらがな。'],
  ['korean', '한국어 텍스트와 한글 음절.'],
  ['emoji_zwj', '👨‍👩‍👧‍👦 family, 👩🏽‍💻 coder, 🏳️‍🌈 flag, 🇫🇷 and 🙂'],
  ['code', 'for (int i = 0; i < n; ++i) {\n  sum += a[i] * b[i];\n}\nreturn sum >> 1;'],
  ['python_code', 'import os\n\nclass Foo:\n    def __init__(self):\n        self.x = {"a": [1, 2]}\n'],
  ['space_runs', 'a b  c   d    e     f' + ' '.repeat(10) + 'g' + ' '.repeat(24) + 'h' + ' '.repeat(25) + 'i' + ' '.repeat(60) + 'j'],
  ['trailing_spaces', 'end with spaces   '],
  ['newlines', 'line1\nline2\n\nline3\n\n\nline4\r\nline5\n'],
  ['double_newline', '\n\n'],
  ['single_newline', '\n'],
  ['mixed_whitespace', ' \t\n \u00a0x\u3000y \u2003 z\t\tw'],
  ['nfc_combining', 'cafe\u0301 nai\u0308ve A\u030a \u1100\u1161\u11a8 e\u0301\u0327'],
  ['nfc_reorder', 'a\u0327\u0301 q\u0307\u0323 \u212b \u0344'],
  ['precomposed', 'café naïve Å 각'],
  ['special_tokens', 'Question<|endoftext|>Answer<|padding|> done'],
  ['punctuation', '!!! ??? ... --- *** ### @@@ <<>> ((()))'],
  ['urls', 'See https://example.com/path?a=1&b=2#frag or mail me@example.org.'],
  ['apostrophes', "''s 's 'S 'll 'LL rock'n'roll"],
  ['long_mixed', longMixed],
];

// Byte strings that are not valid UTF-8: only the byte-exact World and bytes tokenizers take them.
const byteCases = [
  ['truncated_utf8', Buffer.concat([Buffer.from('abc '), Buffer.from('中', 'utf8').subarray(0, 2)])],
  ['lone_continuation', Buffer.from([0x41, 0x80, 0x42, 0xbf, 0x20, 0x43])],
  ['invalid_leads', Buffer.from([0xc0, 0xaf, 0xff, 0xfe, 0x20, 0xf5, 0x80, 0x80, 0x80])],
  ['surrogate_encoded', Buffer.from([0x68, 0xed, 0xa0, 0x80, 0x69])],
  ['latin1_text', Buffer.from('caf\xe9 na\xefve', 'latin1')],
  ['nul_and_controls', Buffer.from([0x00, 0x01, 0x0a, 0x7f, 0x1b, 0x5b, 0x30, 0x6d])],
];

// ---------------------------------------------------------------- main

async function main() {
  const world = loadWorldVocab(path.join(sharedDir, 'vocab', 'rwkv_vocab_v20230424.txt'));
  const neoxJson = JSON.parse(fs.readFileSync(path.join(sharedDir, 'vocab', '20B_tokenizer.json'), 'utf8'));
  const neox = new Tokenizer(neoxJson, {});

  const cases = [];
  for (const [name, text] of textCases) {
    const neoxIds = neox.encode(text, { add_special_tokens: false }).ids;
    const entry = { name, text, neox: Array.from(neoxIds), world: worldEncode(world, Buffer.from(text, 'utf8')) };
    // NeoX normalizes to NFC, so its round trip gives this text back instead of the input.
    if (text.normalize('NFC') !== text) entry.nfc = text.normalize('NFC');
    cases.push(entry);
  }
  for (const [name, bytes] of byteCases) {
    cases.push({ name, bytes_base64: bytes.toString('base64'), world: worldEncode(world, bytes) });
  }
  const note = 'Generated by tools/gen-tokenizer-fixtures.js; neox from @huggingface/tokenizers, ' +
    'world from the independent slow reference in that script. Do not edit by hand.';
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify({ note, cases }, null, 0).replace(/\},\{/g, '},\n{') + '\n');
  console.log(`wrote ${cases.length} cases to ${path.relative(repoRoot, outFile)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
