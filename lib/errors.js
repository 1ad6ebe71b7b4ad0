'use strict';

/**
 * The error class of everything rwkv-node rejects or throws for reasons other than a wrong
 * argument type (those are TypeError/RangeError). `code` says what kind of failure it was:
 * E_IO, E_FORMAT, E_VERSION, E_SHAPE, E_DTYPE, E_MISSING_TENSOR, E_ARGUMENT, E_FREED, E_NOT_SETUP,
 * E_TOKENIZER, E_DEVICE, E_ABORT, E_INTERNAL.
 */
class RwkvError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'RwkvError';
    this.code = code || 'E_INTERNAL';
  }
}

module.exports = { RwkvError };
