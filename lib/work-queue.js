'use strict';
// A fair FIFO queue that runs at most `limit` jobs at once (RWKV-cpp-node's `concurrent`).

class WorkQueue {
  constructor(limit) {
    this.limit = limit;
    this.active = 0;
    this.waiting = [];
  }

  /** Runs job() when a slot is free; resolves to {value, waitedMs}. */
  run(job) {
    return new Promise((resolve, reject) => {
      const queuedAt = performance.now();
      const start = () => {
        this.active++;
        const waitedMs = performance.now() - queuedAt;
        Promise.resolve()
          .then(job)
          .then((value) => resolve({ value, waitedMs }), reject)
          .finally(() => {
            this.active--;
            const next = this.waiting.shift();
            if (next) next();
          });
      };
      if (this.active < this.limit) start();
      else this.waiting.push(start);
    });
  }

  get pending() {
    return this.waiting.length;
  }
}

module.exports = { WorkQueue };
