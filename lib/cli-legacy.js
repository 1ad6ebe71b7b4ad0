'use strict';
// RWKV-cpp-node's command line (A.10) maps onto the subcommands: `--setup` → setup, `--dragon` →
// dragon, anything else (or nothing) → chat. Unlike RWKV-cpp-node, these flags work in any position.
const fs = require('fs');
const { UsageError } = require('./cli-errors');

const COMMANDS = ['chat', 'complete', 'serve', 'setup', 'pull', 'dragon', 'info', 'quantize', 'make-synthetic', 'help'];
const TOP_LEVEL = ['-h', '--help', '-V', '--version'];

function translateArgv(args) {
  if (args.length === 0) return ['chat'];
  if (COMMANDS.includes(args[0])) return args;
  if (args.includes('--setup')) return ['setup', ...args.filter((a) => a !== '--setup')];
  if (args.includes('--dragon')) return ['dragon', ...args.filter((a) => a !== '--dragon')];
  if (TOP_LEVEL.includes(args[0])) return args;
  // A bare word that is not a file is a mistyped command, not a model path.
  if (!args[0].startsWith('-') && !fs.existsSync(args[0])) {
    throw new UsageError(`unknown command "${args[0]}" (and no such model file). Commands: ${COMMANDS.filter((c) => c !== 'help').join(', ')}`);
  }
  return ['chat', ...args];
}

module.exports = { translateArgv, COMMANDS };
