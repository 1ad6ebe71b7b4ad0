'use strict';
// `rwkv-node` / `rwkv-node chat [model]`: an interactive chat on a terminal, or a line-per-message
// chat for scripts when stdin is a pipe (replies on stdout, one per line; exits at EOF).
const readline = require('readline');
const { openModel } = require('./cli-model');
const { Conversation } = require('./cli-conversation');
const { samplingFromOptions } = require('./cli-options');
const { InterruptedError } = require('./cli-errors');

const HELP = `Commands:
  /reset              start a new conversation
  /regenerate         ask for the last reply again
  /save <file>        save the conversation (text and state) to a file
  /load <file>        continue a saved conversation
  /help               this list
  /exit               quit (also Ctrl-D; Ctrl-C stops a reply, twice at the prompt quits)
`;

async function runChat(positional, opts) {
  const tty = Boolean(process.stdin.isTTY);
  const model = await openModel(opts, { positional });
  const convo = new Conversation(model, {
    userName: opts.userName, assistantName: opts.assistantName, systemPrompt: opts.systemPrompt,
    sampling: samplingFromOptions(opts), maxTokens: opts.maxTokens,
  });
  const out = process.stdout;
  const err = process.stderr;
  const rl = readline.createInterface({ input: process.stdin, output: tty ? out : undefined, terminal: tty });
  let current = null; // AbortController of the reply being generated
  let interruptedAtPrompt = false;

  // Ctrl-C: stop the reply being generated; at the prompt, the second one in a row quits.
  const onInterrupt = () => {
    if (current) {
      current.abort();
      return;
    }
    if (interruptedAtPrompt || !tty) {
      rl.close();
      quit = new InterruptedError('chat interrupted');
      return;
    }
    interruptedAtPrompt = true;
    out.write('\n(press Ctrl-C again or type /exit to quit)\n');
    rl.prompt();
  };
  let quit = null;
  rl.on('SIGINT', onInterrupt); // a terminal in raw mode delivers Ctrl-C here
  process.on('SIGINT', onInterrupt); // a pipe or `kill -INT` delivers it here

  const prompt = () => {
    if (!tty) return;
    rl.setPrompt(`${convo.userName}: `);
    rl.prompt();
  };

  const reply = async (fn) => {
    current = new AbortController();
    let first = true;
    if (tty) out.write(`${convo.assistantName}:`);
    const onText = (chunk) => {
      // The reply follows "Assistant:" and starts with a space; scripts want the text alone.
      if (first && !tty) chunk = chunk.replace(/^\s+/, '');
      if (chunk) first = false;
      out.write(chunk);
    };
    try {
      const r = await fn({ onText, signal: current.signal });
      out.write(r.result.finishReason === 'abort' ? (tty ? ' [stopped]\n' : '\n') : '\n');
      if (opts.meter && r.meter) err.write(`meter ${JSON.stringify(r.meter)}\n`);
      if (opts.timing && r.result) err.write(`(${r.result.usage.completionTokens} tokens, ${r.result.perf.completionPerSecond.toFixed(1)} tok/s)\n`);
    } finally {
      current = null;
    }
  };

  if (tty) out.write(`Chat with ${model.info.path}. Type /help for commands.\n`);
  prompt();
  try {
    for await (const raw of rl) {
      interruptedAtPrompt = false;
      const line = raw.trim();
      if (line === '') {
        prompt();
        continue;
      }
      if (line.startsWith('/')) {
        const [cmd, ...rest] = line.split(/\s+/);
        const arg = rest.join(' ');
        if (cmd === '/exit' || cmd === '/quit') break;
        try {
          if (cmd === '/help') out.write(HELP);
          else if (cmd === '/reset') {
            convo.reset();
            out.write('(conversation reset)\n');
          } else if (cmd === '/regenerate') await reply((o) => convo.regenerate(o));
          else if (cmd === '/save') {
            if (!arg) throw new Error('usage: /save <file>');
            convo.save(arg);
            out.write(`(saved ${convo.turns.length} turns to ${arg})\n`);
          } else if (cmd === '/load') {
            if (!arg) throw new Error('usage: /load <file>');
            convo.load(arg);
            out.write(`(loaded ${convo.turns.length} turns from ${arg})\n`);
          } else throw new Error(`unknown command ${cmd}; /help lists them`);
        } catch (e) {
          err.write(`Error: ${e.message}\n`);
        }
        prompt();
        continue;
      }
      await reply((o) => convo.say(line, o));
      prompt();
    }
  } finally {
    rl.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGINT', onInterrupt);
    rl.close();
    await model.free();
  }
  if (quit) throw quit;
}

module.exports = { runChat };
