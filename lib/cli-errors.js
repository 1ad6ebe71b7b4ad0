'use strict';
// Exit codes scripts can rely on, and the error classes that carry them to bin/rwkv-node.js.
const EXIT = Object.freeze({ OK: 0, ERROR: 1, USAGE: 2, INTERRUPTED: 130 });

/** A bad flag, argument or combination: the user must change the command line (exit 2). */
class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
    this.exitCode = EXIT.USAGE;
  }
}

/** Ctrl-C / SIGINT stopped a long task (exit 130, as shells report for SIGINT). */
class InterruptedError extends Error {
  constructor(message = 'interrupted') {
    super(message);
    this.name = 'InterruptedError';
    this.exitCode = EXIT.INTERRUPTED;
  }
}

module.exports = { EXIT, UsageError, InterruptedError };
