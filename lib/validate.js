'use strict';
// Argument checks with messages that name the option, what was expected and what arrived.

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return `an object (${value.constructor ? value.constructor.name : 'Object'})`;
  return `${typeof value} ${String(value)}`;
}

function invalid(name, expected, value) {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
}

function number(name, value, { min = -Infinity, max = Infinity, integer = false } = {}) {
  if (typeof value !== 'number' || Number.isNaN(value) || (integer && !Number.isInteger(value))) {
    throw invalid(name, integer ? 'an integer' : 'a number', value);
  }
  if (value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `between ${min} and ${max}`;
    throw new RangeError(`${name} must be ${range}, got ${value}`);
  }
  return value;
}

function string(name, value) {
  if (typeof value !== 'string') throw invalid(name, 'a string', value);
  return value;
}

function boolean(name, value) {
  if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value);
  return value;
}

function func(name, value) {
  if (typeof value !== 'function') throw invalid(name, 'a function', value);
  return value;
}

/** Token ids as a Uint32Array, each < nVocab. */
function tokens(name, value, nVocab) {
  let arr;
  if (value instanceof Uint32Array) arr = value;
  else if (Array.isArray(value)) {
    arr = new Uint32Array(value.length);
    value.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0) throw new TypeError(`${name}[${i}] must be a non-negative integer token id, got ${describe(t)}`);
      arr[i] = t;
    });
  } else throw invalid(name, 'an array or Uint32Array of token ids', value);
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] >= nVocab) throw new RangeError(`${name}[${i}] is token id ${arr[i]}, but this model's vocabulary has ${nVocab} tokens (ids 0 to ${nVocab - 1})`);
  }
  return arr;
}

// A Float32Array of exactly `length` floats; `what` ends the RangeError's message ("state has 7680").
function floats(name, value, length, what) {
  if (!(value instanceof Float32Array)) throw invalid(name, `a Float32Array of ${length} floats`, value);
  if (value.length !== length) throw new RangeError(`${name} has ${value.length} floats, but this model's ${what}`);
  return value;
}

function state(name, value, stateSize) {
  return floats(name, value, stateSize, `state has ${stateSize}`);
}

module.exports = { invalid, number, string, boolean, func, tokens, floats, state, describe };
