'use strict';
// `require('rwkv-node')` is the RWKV class itself (as RWKV-cpp-node's export), with named exports
// attached: require('rwkv-node').RWKV, .Tokenizer, .RwkvError.
const { RWKV } = require('./rwkv');
const { Tokenizer } = require('./tokenizer');
const { RwkvError } = require('./errors');

module.exports = RWKV;
module.exports.RWKV = RWKV;
module.exports.Tokenizer = Tokenizer;
module.exports.RwkvError = RwkvError;
module.exports.default = RWKV;
