'use strict';
// A chat conversation over RWKV's recurrent state. The state after each reply is kept, so a turn
// only evaluates its new text ("User: …\n\nAssistant:"), never the history. Save/load writes the
// state and the transcript to one small file.
const fs = require('fs');
const path = require('path');

// The RWKV World chat template, shared by the CLI chat, ChatSession and the HTTP server: messages as
// "Name: text", separated by a blank line; a reply ends at the next blank line (or the user's cue).
const TURN_SEPARATOR = '\n\n';
/** RWKV chat models read "\n\n" as the end of a message, so a message never contains one. */
function cleanMessage(message) {
  return message.replace(/\r\n/g, '\n').replace(/\n{2,}/g, '\n').trim();
}
/** One message of the template. */
function messageLine(name, text) {
  return `${name}: ${cleanMessage(text)}`;
}
/** Where an assistant's reply ends. */
function replyStops(userName) {
  return [`${TURN_SEPARATOR}${userName}:`, TURN_SEPARATOR];
}
const MAGIC = Buffer.from('RWKVCHAT'); // then: uint32 LE header length, JSON header, padding to 4 bytes, float32 LE state

class Conversation {
  /**
   * @param {import('./rwkv').RWKV} model
   * @param {{userName?: string, assistantName?: string, systemPrompt?: string, sampling?: object, maxTokens?: number}} options
   */
  constructor(model, options = {}) {
    this.model = model;
    this.userName = options.userName || 'User';
    this.assistantName = options.assistantName || 'Assistant';
    this.systemPrompt = options.systemPrompt || '';
    this.sampling = options.sampling || {};
    this.maxTokens = options.maxTokens ?? 500;
    this._draws = 0;
    this.reset();
  }

  /** Back to an empty conversation (the system prompt is fed again with the first turn). */
  reset() {
    this.state = null; // covers `text` exactly; null = the initial state
    this.text = '';
    this.pending = ''; // text owed before the next turn (the separator the stop string cut off)
    this.tokensInState = 0;
    this.turns = [];
    this._before = null;
  }

  /** The text this turn feeds: what is owed, the user's message, and the assistant's cue. */
  turnPrompt(message) {
    const system = this.state === null && this.text === '' && this.systemPrompt ? `${messageLine('System', this.systemPrompt)}${TURN_SEPARATOR}` : '';
    return `${system}${this.pending}${messageLine(this.userName, message)}${TURN_SEPARATOR}${this.assistantName}:`;
  }

  get stop() {
    return replyStops(this.userName);
  }

  /**
   * Sends a message; streams the reply through onText. Resolves to {reply, result, meter}.
   * An aborted reply is kept (the state covers what was generated).
   */
  async say(message, { onText, signal } = {}) {
    const before = this.snapshot();
    const prompt = this.turnPrompt(message);
    // A fixed --seed makes the whole chat repeatable, yet each reply (and each /regenerate) draws anew.
    const sampling = { ...this.sampling };
    if (sampling.seed !== undefined) sampling.seed += this._draws;
    this._draws++;
    const result = await this.model.completion({
      prompt, initState: this.state, returnState: true, maxTokens: this.maxTokens, stop: this.stop,
      streamCallback: onText, signal, ...sampling,
    });
    // Aborted before the first reply token: the state may hold only part of the prompt, so the turn
    // is dropped and the conversation stays as it was.
    if (!result.state || (result.finishReason === 'abort' && result.usage.completionTokens === 0)) return { reply: '', result, meter: null, aborted: true };
    const cached = this.tokensInState;
    this._before = { ...before, message };
    this.state = result.state;
    this.text += prompt + result.completion;
    this.tokensInState += result.usage.promptTokens + result.usage.completionTokens;
    this.pending = this.owedAfter();
    this.turns.push({ user: message, assistant: result.completion.trim() });
    const meter = { turn: this.turns.length, promptTokens: result.usage.promptTokens, promptTokensCached: cached, completionTokens: result.usage.completionTokens, finishReason: result.finishReason, newText: prompt };
    return { reply: result.completion.trim(), result, meter };
  }

  /**
   * The separator the state has not seen yet. The library's returned state covers the prompt and
   * the completion text exactly (a stop string and its tokens are rolled back), so after any reply
   * the whole "\n\n" is still owed and is fed with the next message.
   */
  owedAfter() {
    return TURN_SEPARATOR;
  }

  /** Drops the last reply and asks again from the state before it. */
  async regenerate(options) {
    if (!this._before) throw new Error('nothing to regenerate yet');
    const { message, ...before } = this._before;
    this.restore(before);
    return this.say(message, options);
  }

  snapshot() {
    return { state: this.state, text: this.text, pending: this.pending, tokensInState: this.tokensInState, turns: [...this.turns] };
  }

  restore(s) {
    Object.assign(this, { state: s.state, text: s.text, pending: s.pending, tokensInState: s.tokensInState, turns: [...s.turns] });
  }

  /** Writes the conversation (header JSON + Float32 state) to `file`. */
  save(file) {
    const info = this.model.info;
    const header = Buffer.from(JSON.stringify({
      format: 'rwkv-node-chat', version: 1,
      model: { file: path.basename(info.path), version: info.version, nVocab: info.nVocab, stateSize: info.stateSize, dataType: info.dataType },
      userName: this.userName, assistantName: this.assistantName, systemPrompt: this.systemPrompt,
      text: this.text, pending: this.pending, tokensInState: this.tokensInState, turns: this.turns,
      hasState: this.state !== null,
    }));
    const pad = (4 - ((MAGIC.length + 4 + header.length) % 4)) % 4;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length + pad);
    const parts = [MAGIC, len, header, Buffer.alloc(pad, 0x20)];
    if (this.state) parts.push(Buffer.from(this.state.buffer, this.state.byteOffset, this.state.byteLength));
    fs.writeFileSync(file, Buffer.concat(parts));
  }

  /** Reads a file written by save(); the state must fit this model. */
  load(file) {
    const buf = fs.readFileSync(file);
    if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) throw new Error(`${file} is not a saved rwkv-node chat`);
    const hlen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8'));
    const info = this.model.info;
    if (header.model.stateSize !== info.stateSize) {
      throw new Error(`${file} was saved with ${header.model.file} (RWKV-${header.model.version}, state of ${header.model.stateSize} floats); this model's state has ${info.stateSize}`);
    }
    let state = null;
    if (header.hasState) {
      const bytes = buf.subarray(12 + hlen);
      if (bytes.length !== info.stateSize * 4) throw new Error(`${file} is truncated: its state has ${bytes.length} bytes, ${info.stateSize * 4} expected`);
      state = new Float32Array(info.stateSize);
      Buffer.from(state.buffer).set(bytes);
    }
    this.userName = header.userName;
    this.assistantName = header.assistantName;
    this.systemPrompt = header.systemPrompt;
    this.restore({ state, text: header.text, pending: header.pending, tokensInState: header.tokensInState, turns: header.turns });
    this._before = null;
    return header;
  }
}

module.exports = { Conversation, TURN_SEPARATOR, messageLine, replyStops };
