'use strict';
// `require('rwkv-node')` is the RWKV class itself (as RWKV-cpp-node's export), with named exports
// attached: require('rwkv-node').RWKV, .Tokenizer, .RwkvError, .createServer (an OpenAI-compatible HTTP API).
const { RWKV } = require('./rwkv');
const { Tokenizer } = require('./tokenizer');
const { RwkvError } = require('./errors');

module.exports = RWKV;
module.exports.RWKV = RWKV;
module.exports.Tokenizer = Tokenizer;
module.exports.RwkvError = RwkvError;
// Loaded on first use: most programs never serve HTTP.
module.exports.createServer = (model, options) => require('./server').createServer(model, options);
// A chat in node-llama-cpp's shape (LlamaChatSession): prompt(), promptWithMeta(), get/set/resetChatHistory.
Object.defineProperty(module.exports, 'ChatSession', { enumerable: true, get: () => require('./chat-session').ChatSession });
// RWKV-cpp-node's low-level binding: rwkv.cpp's C API by name (lib/cpp-bind.js).
Object.defineProperty(module.exports, 'cpp_bind', { enumerable: true, get: () => require('./cpp-bind').cppBind });
module.exports.default = RWKV;
