#!/usr/bin/env node
'use strict';
// rwkv-node's command line: RWKV-cpp-node's flags (--setup, --modelPath, --threads, --gpu, --dragon,
// --size) plus node-llama-cpp-style subcommands. Exit codes: 0 ok, 1 runtime error, 2 usage error,
// 130 interrupted (Ctrl-C).
if (Number(process.versions.node.split('.')[0]) < 18) {
  console.error(`rwkv-node needs Node.js 18 or newer; this is ${process.version}`);
  process.exit(1);
}

const { Command, Option } = require('commander');
const { EXIT, UsageError } = require('../lib/cli-errors');
const { translateArgv } = require('../lib/cli-legacy');
const { addModelOptions, addSamplingOptions, number, parseThreads, parseGpu, parseConcurrent } = require('../lib/cli-options');
const pkg = require('../package.json');

const lazy = (file, name) => (...args) => require(file)[name](...args);

function buildProgram() {
  const program = new Command('rwkv-node');
  program
    .description('Run RWKV language models: chat, download models, benchmark, inspect and quantize.\nWith no command: chat with the configured model (RWKV-cpp-node compatible flags work too).')
    .version(pkg.version, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nRWKV-cpp-node flags: --setup, --modelPath <file>, --threads <n>, --gpu <n|n%>, --dragon [--size N]\nExit codes: 0 ok, 1 error, 2 bad usage, 130 interrupted.');

  const chat = program.command('chat [model]').description('chat with a model (the default command)');
  addSamplingOptions(addModelOptions(chat), { temperature: 1.0, topP: 0.5, presencePenalty: 0.4, frequencyPenalty: 0.4 })
    .option('--maxTokens <n>', 'longest reply, in tokens', number('maxTokens', { min: 1, integer: true }), 500)
    .option('-s, --systemPrompt <text>', 'instructions fed once before the first message')
    .option('--userName <name>', 'name of the user in the chat template', 'User')
    .option('--assistantName <name>', 'name of the assistant in the chat template', 'Assistant')
    .option('--meter', 'print token counts of each turn to stderr (as JSON)')
    .option('--timing', 'print the speed of each reply to stderr')
    .action(lazy('../lib/cli-chat', 'runChat'));

  const downloadOptions = (cmd) =>
    cmd
      .option('--model <id|url>', 'model id from the catalogue, or a URL')
      .option('-d, --dir <folder>', 'where to put the files (default: $RWKV_HOME or ~/.rwkv)')
      .option('--mirror <url>', 'base URL replacing https://huggingface.co (default: $RWKV_MIRROR)')
      .option('-y, --yes', 'no questions: download and keep current/default settings')
      .option('--threads <n>', 'CPU threads to save in config.json', parseThreads)
      .option('--gpu <layers|n%>', 'GPU offload to save in config.json', parseGpu)
      .option('--vocab <world|neox>', 'vocabulary a URL model needs (guessed from its name)')
      .option('-n, --filename <name>', 'local file name for a URL model')
      .option('--retries <n>', 'automatic resumes after a dropped connection', number('retries', { min: 0, max: 100, integer: true }), 2)
      .option('--no-progress', 'no progress bar')
      .option('--no-config', 'do not write config.json');
  downloadOptions(program.command('setup').description('pick, download and configure a model (same as --setup)'))
    .action((opts) => require('../lib/cli-setup').runSetup(opts));
  downloadOptions(program.command('pull [model]').description('download a model by catalogue id or URL (interactive list without one)'))
    .action((model, opts) => require('../lib/cli-setup').runSetup({ ...opts, model: model || opts.model }));

  const dragon = program.command('dragon').description("benchmark on RWKV-cpp-node's dragon prompt (same as --dragon)");
  addSamplingOptions(addModelOptions(dragon))
    .option('--size <n>', 'tokens to generate', number('size', { min: 0, integer: true }), 1000)
    .option('--json', 'print one JSON record (machine, model, settings, speeds) instead of the text')
    .addOption(new Option('--synthetic <size>', 'benchmark random weights of a real RWKV-7 shape (text is noise)').choices(['0.1B', '0.4B', '1.5B', '2.9B', '7B']))
    .option('--type <type>', 'data type of the --synthetic model', 'Q8_0')
    .action(lazy('../lib/cli-dragon', 'runDragon'));

  program.command('info [model]').description('show a model file (version, shapes, data types, parameters, state, memory); with --gpu alone, list GPUs')
    .option('--gpu [layers|n%|auto]', 'list Vulkan devices (no model), or load with this GPU offload and show it', parseGpu)
    .option('--tokenizer <path|world|neox|bytes>', 'tokenizer vocabulary file or kind')
    .option('--json', 'print JSON')
    .action(lazy('../lib/cli-tools', 'runInfo'));

  const complete = program.command('complete [model]').description('continue a text: the prompt from --prompt, --promptFile or stdin, the continuation on stdout');
  addSamplingOptions(addModelOptions(complete))
    .option('--prompt <text>', 'the text to continue')
    .option('--promptFile <file>', 'read the text to continue from a file')
    .option('--maxTokens <n>', 'tokens to generate', number('maxTokens', { min: 0, integer: true }), 256)
    .option('--stop <strings...>', 'stop at any of these strings (not printed)')
    .option('--timing', 'print token counts and speeds to stderr')
    .option('--json', 'print one JSON record {prompt, completion, finishReason, usage, perf} instead of the text')
    .action(lazy('../lib/cli-complete', 'runComplete'));

  const serve = program.command('serve [model]').description('serve the model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions)');
  addModelOptions(serve)
    .option('--port <n>', 'TCP port (0: any free one)', number('port', { min: 0, max: 65535, integer: true }), 8080)
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--concurrent <n|auto>', 'completions that run at once, batched together (auto: sized by memory)', parseConcurrent, 8)
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" (default: $RWKV_API_KEY)')
    .option('--name <id>', 'model id the API reports (default: the file name)')
    .option('--maxTokens <n>', 'longest chat reply when a request sets no max_tokens', number('maxTokens', { min: 1, integer: true }), 1024)
    .option('-s, --systemPrompt <text>', 'system message for chats that bring none')
    .option('--cors', 'let web pages of any origin call the API')
    .option('-q, --quiet', 'no line per request on stderr')
    .action(lazy('../lib/cli-serve', 'runServe'));

  program.command('quantize <input> <output> <type>').description('quantize an FP32/FP16 model to Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0')
    .option('-f, --force', 'overwrite the output file')
    .action(lazy('../lib/cli-tools', 'runQuantize'));

  program.command('make-synthetic <size> <file>').description('write a random-weight RWKV-7 model of a real shape (0.1B, 0.4B, 1.5B, 2.9B, 7B) for benchmarks')
    .option('--type <type>', 'FP32, FP16, Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0', 'FP16')
    .option('--seed <n>', 'random seed', number('seed', { min: 0, integer: true }), 42)
    .option('--gguf <file>', 'also write the same weights as GGUF, in the same quantized type or FP16 (for llama.cpp comparisons)')
    .option('--vocab <file>', 'World vocabulary for the GGUF')
    .action(lazy('../lib/cli-tools', 'runMakeSynthetic'));
  return program;
}

function exitCodeOf(err) {
  if (err.code && String(err.code).startsWith('commander.')) {
    return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code) ? EXIT.OK : EXIT.USAGE;
  }
  if (err.exitCode !== undefined) return err.exitCode;
  if (err.name === 'ExitPromptError') return EXIT.INTERRUPTED; // Ctrl-C inside an @inquirer prompt
  if (err instanceof TypeError || err instanceof RangeError) return EXIT.USAGE; // the library's argument checks
  return EXIT.ERROR;
}

async function main() {
  let code = EXIT.OK;
  try {
    await buildProgram().parseAsync(translateArgv(process.argv.slice(2)), { from: 'user' });
  } catch (err) {
    code = exitCodeOf(err);
    if (!String(err.code || '').startsWith('commander.')) {
      // commander already printed its own messages; everything else is printed once here.
      const tag = code === EXIT.INTERRUPTED ? 'Interrupted' : 'Error';
      process.stderr.write(`${tag}: ${err.message}${err.code && code === EXIT.ERROR ? ` [${err.code}]` : ''}\n`);
      if (err instanceof UsageError) process.stderr.write('(run with --help for usage)\n');
      if (process.env.RWKV_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    }
  }
  process.exitCode = code;
  // Open handles (a paused stdin, a keep-alive socket) must not keep a finished command alive.
  setImmediate(() => process.exit(code));
}

main();
