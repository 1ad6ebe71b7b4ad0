'use strict';
// `rwkv-node serve`: the model behind an OpenAI-compatible HTTP API (lib/server.js) until Ctrl-C or
// SIGTERM, which stop taking connections, end the requests in flight and free the model (exit 0).
const { openModel } = require('./cli-model');
const { UsageError } = require('./cli-errors');

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    const onError = (err) => {
      server.removeListener('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is in use: pick another with --port (0 lets the system choose)`));
      else if (err.code === 'EACCES') reject(new Error(`not allowed to listen on port ${port} of ${host}: ports below 1024 need privileges; try --port 8080`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new UsageError(`--host ${host} is not an address of this machine`));
      else reject(err);
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

async function runServe(positional, opts) {
  const { createServer } = require('./server');
  const model = await openModel(opts, { positional, config: { concurrent: opts.concurrent } });
  const log = opts.quiet ? null : (r) => {
    const tokens = r.promptTokens || r.completionTokens ? ` ${r.promptTokens}+${r.completionTokens} tokens` : '';
    process.stderr.write(`${new Date().toISOString()} ${r.method} ${r.url} ${r.status}${tokens} ${(r.ms / 1000).toFixed(2)} s${r.aborted ? ' (client left)' : ''}\n`);
  };
  const server = createServer(model, {
    modelName: opts.name, apiKey: opts.apiKey ?? process.env.RWKV_API_KEY, maxTokens: opts.maxTokens,
    systemPrompt: opts.systemPrompt, cors: opts.cors, onRequest: log,
  });
  try {
    await listen(server, opts.port, opts.host);
  } catch (err) {
    await model.free();
    throw err;
  }
  const { port } = server.address();
  const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  process.stderr.write(`Serving ${server.modelName} at http://${shown}:${port}/v1 (GET /v1/models, POST /v1/completions, POST /v1/chat/completions), ${model.concurrency} at once${opts.apiKey ?? process.env.RWKV_API_KEY ? ', API key required' : ''}; Ctrl-C stops it\n`);
  await new Promise((resolve) => {
    const stop = (signal) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      process.stderr.write(`\n${signal}: stopping (${model.activeWorkCount()} requests in flight end now)\n`);
      server.close(() => resolve());
      server.abortAll();
      if (server.closeIdleConnections) server.closeIdleConnections();
      // Streams still open after their completions ended get a moment to finish, then are cut.
      setTimeout(() => { if (server.closeAllConnections) server.closeAllConnections(); }, 2000).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await model.free();
}

module.exports = { runServe };
