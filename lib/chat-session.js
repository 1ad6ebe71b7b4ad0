'use strict';
// ChatSession: a chat over one model in node-llama-cpp's shape (LlamaChatSession: prompt() returns the
// reply, promptWithMeta() adds why it stopped, get/set/resetChatHistory), on the CLI's Conversation: the
// RNN state after each reply is kept, so a turn evaluates only its own text, never the history.
const check = require('./validate');
const { Conversation, TURN_SEPARATOR, messageLine } = require('./cli-conversation');

const STOP_REASONS = { stop: 'stopGenerationTrigger', length: 'maxTokens', abort: 'abort' };
// Options of a prompt that go to completion() as they are (the rest are refused by name).
const PASSED = ['temperature', 'topP', 'topK', 'minP', 'presencePenalty', 'frequencyPenalty', 'penaltyDecay', 'seed', 'logitBias', 'bannedTokens'];

class ChatSession {
  /**
   * @param {{model: import('./rwkv').RWKV, systemPrompt?: string, userName?: string, assistantName?: string,
   *          maxTokens?: number, temperature?: number, topP?: number, topK?: number, minP?: number,
   *          presencePenalty?: number, frequencyPenalty?: number, seed?: number}} options
   */
  constructor(options) {
    if (options === null || typeof options !== 'object') throw check.invalid('ChatSession options', 'an object {model, systemPrompt?, ...}', options);
    const { model, systemPrompt, userName, assistantName, maxTokens, ...rest } = options;
    if (!model || typeof model.completion !== 'function') throw new TypeError('ChatSession needs {model}: an RWKV instance after setup()');
    this.model = model;
    this._system = systemPrompt === undefined ? '' : check.string('systemPrompt', systemPrompt);
    this._defaults = ChatSession._sampling(rest, 'ChatSession option');
    this._conversation = new Conversation(model, {
      systemPrompt: this._system,
      userName: userName === undefined ? 'User' : check.string('userName', userName),
      assistantName: assistantName === undefined ? 'Assistant' : check.string('assistantName', assistantName),
      maxTokens: maxTokens === undefined ? 500 : check.number('maxTokens', maxTokens, { min: 1, integer: true }),
    });
    this._busy = false;
  }

  /** @private */
  static _sampling(opts, what) {
    const out = {};
    for (const [k, v] of Object.entries(opts)) {
      if (!PASSED.includes(k)) throw new TypeError(`Unknown ${what} "${k}". Known: ${['maxTokens', 'onTextChunk', 'signal', 'stopOnAbortSignal', ...PASSED].join(', ')}`);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  /** Sends a message and resolves to the reply text. Options: maxTokens, onTextChunk, signal, stopOnAbortSignal, sampling. */
  async prompt(message, options = {}) {
    return (await this.promptWithMeta(message, options)).response;
  }

  /**
   * As prompt(), resolving to {response, metadata: {stopReason}}: 'stopGenerationTrigger' (the reply ended),
   * 'maxTokens', or 'abort' (signal; then the partial reply is kept, unless stopOnAbortSignal is false).
   */
  async promptWithMeta(message, options = {}) {
    check.string('message', message);
    if (options === null || typeof options !== 'object') throw check.invalid('options', 'an object', options);
    const { maxTokens, onTextChunk, signal, stopOnAbortSignal = true, ...rest } = options;
    const sampling = { ...this._defaults, ...ChatSession._sampling(rest, 'prompt option') };
    if (this._busy) throw new Error('ChatSession: a prompt is already running; await it first (one session is one conversation)');
    this._busy = true;
    const convo = this._conversation;
    const savedMax = convo.maxTokens;
    try {
      if (maxTokens !== undefined) convo.maxTokens = check.number('maxTokens', maxTokens, { min: 1, integer: true });
      convo.sampling = sampling;
      const { reply, result } = await convo.say(message, {
        onText: onTextChunk === undefined ? undefined : check.func('onTextChunk', onTextChunk),
        signal,
      });
      if (result.finishReason === 'abort' && !stopOnAbortSignal) {
        const reason = signal && signal.reason !== undefined ? signal.reason : new Error('aborted');
        throw reason;
      }
      return { response: reply, metadata: { stopReason: STOP_REASONS[result.finishReason] || 'stopGenerationTrigger' } };
    } finally {
      convo.maxTokens = savedMax;
      this._busy = false;
    }
  }

  /** The conversation as node-llama-cpp's ChatHistoryItem list: {type: 'system' | 'user', text} and {type: 'model', response: [text]}. */
  getChatHistory() {
    const convo = this._conversation;
    const items = [];
    if (this._system) items.push({ type: 'system', text: this._system });
    for (const t of convo.turns) {
      items.push({ type: 'user', text: t.user });
      items.push({ type: 'model', response: [t.assistant] });
    }
    return items;
  }

  /**
   * Replaces the conversation. Its text is fed with the next prompt (the prefix cache serves what an
   * earlier request of this model already evaluated); a system item sets the system prompt.
   */
  setChatHistory(history) {
    if (!Array.isArray(history)) throw check.invalid('history', 'an array of {type, text} / {type: "model", response}', history);
    const convo = this._conversation;
    let system = '';
    const turns = [];
    let user = null;
    history.forEach((item, i) => {
      if (item === null || typeof item !== 'object') throw check.invalid(`history[${i}]`, 'a chat history item', item);
      if (item.type === 'system') system = check.string(`history[${i}].text`, item.text);
      else if (item.type === 'user') {
        if (user !== null) turns.push({ user, assistant: '' });
        user = check.string(`history[${i}].text`, item.text);
      } else if (item.type === 'model') {
        const response = Array.isArray(item.response) ? item.response.filter((r) => typeof r === 'string').join('') : check.string(`history[${i}].response`, item.response);
        turns.push({ user: user === null ? '' : user, assistant: response });
        user = null;
      } else throw new TypeError(`history[${i}].type must be 'system', 'user' or 'model', got ${JSON.stringify(item.type)}`);
    });
    if (user !== null) turns.push({ user, assistant: '' });
    convo.reset();
    convo.systemPrompt = system;
    const lines = turns.flatMap((t) => [messageLine(convo.userName, t.user), messageLine(convo.assistantName, t.assistant)]);
    if (system) lines.unshift(messageLine('System', system));
    // Owed before the next message: the whole history (the state is the initial one).
    convo.pending = turns.length ? `${lines.join(TURN_SEPARATOR)}${TURN_SEPARATOR}` : '';
    if (turns.length) convo.systemPrompt = ''; // already in `pending`
    convo.turns = turns;
    this._system = system;
  }

  /** Back to an empty conversation (the system prompt stays). */
  resetChatHistory() {
    this._conversation.reset();
    this._conversation.systemPrompt = this._system;
  }

  /** Saves the conversation (its state and text) to a file, as the CLI's /save. */
  save(file) {
    this._conversation.save(check.string('file', file));
  }

  /** Loads a conversation saved by save() or the CLI's /save. */
  load(file) {
    this._conversation.load(check.string('file', file));
    this._system = this._conversation.systemPrompt;
  }

  dispose() {
    this._conversation.reset();
  }
}

module.exports = { ChatSession };
