'use strict';
// `rwkv-node --setup` and `rwkv-node pull <id|url>`: pick a model (interactive list, or --model/--yes
// for scripts), download it and the vocabulary it needs, then record the choice in config.json.
// Loads no native code, so it works before the addon is built.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { download, DownloadError, partPath } = require('./download');
const { loadCatalog, withMirror, memoryNeeded } = require('./models-catalog');
const { rwkvHome, readConfig, writeConfig } = require('./cli-config');
const { downloadBar, formatBytes } = require('./cli-bar');
const { UsageError, InterruptedError } = require('./cli-errors');
const { parseThreads, parseGpu } = require('./cli-options');

const isUrl = (s) => /^https?:\/\//i.test(s);

/** An ad-hoc entry for a URL given to `pull`: nothing known but the name, so only the server's size is checked. */
function entryForUrl(url, opts) {
  const file = opts.filename || decodeURIComponent(path.basename(new URL(url).pathname)) || 'model.bin';
  const guess = /raven|pile|rwkv-4/i.test(file) ? 'neox' : /world|x0[5-7]0|rwkv-?[5-7]|rwkv[5-7]|g[01]/i.test(file) ? 'world' : null;
  return { id: url, label: file, url, file, bytes: null, bytesExact: false, sha256: null, format: '?', vocab: opts.vocab || guess };
}

function describe(entry, dir) {
  const have = fs.existsSync(path.join(dir, entry.file)) ? ' [downloaded]' : fs.existsSync(partPath(path.join(dir, entry.file))) ? ' [partly downloaded]' : '';
  const size = entry.bytes ? `${entry.bytesExact ? '' : '~'}${formatBytes(entry.bytes)}` : 'size ?';
  const mem = entry.bytes ? `, needs ~${formatBytes(memoryNeeded(entry))} RAM` : '';
  return `${entry.label} · ${size}${mem}${have}`;
}

async function pickEntry(catalog, opts, dir) {
  const wanted = opts.model;
  if (wanted) {
    if (isUrl(wanted)) return entryForUrl(wanted, opts);
    const entry = catalog.models.find((m) => m.id === wanted || m.file === wanted);
    if (!entry) throw new UsageError(`unknown model "${wanted}". Known ids: ${catalog.models.map((m) => m.id).join(', ')} (or give an https:// URL)`);
    return entry;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`choosing a model needs a terminal; in scripts pass --model <id> --yes. Known ids: ${catalog.models.map((m) => m.id).join(', ')}`);
  }
  const { select } = require('@inquirer/prompts');
  const id = await select({
    message: 'Select an RWKV model to download:',
    choices: catalog.models.map((m) => ({ name: describe(m, dir), value: m.id })),
    pageSize: 16,
  });
  return catalog.models.find((m) => m.id === id);
}

/** Refuses early when the disk cannot hold the rest of the file, rather than failing at 90 %. */
function checkFreeSpace(dir, needed) {
  if (!needed || typeof fs.statfsSync !== 'function') return;
  let st;
  try {
    st = fs.statfsSync(dir);
  } catch {
    return;
  }
  const free = st.bavail * st.bsize;
  if (free < needed) {
    throw new DownloadError(`not enough free space in ${dir}: ${formatBytes(needed)} needed, ${formatBytes(free)} free. Free some space or choose another folder with --dir`, 'E_DISK');
  }
}

async function fetchOne(item, dest, opts, signal, label) {
  const bar = downloadBar(label, { enabled: opts.progress !== false });
  const already = Math.max(0, fs.existsSync(partPath(dest)) ? fs.statSync(partPath(dest)).size : 0);
  if (item.bytes && !fs.existsSync(dest)) checkFreeSpace(path.dirname(dest), item.bytes - already);
  try {
    return await download({
      url: item.url, dest, bytes: item.bytesExact === false ? null : item.bytes ?? null, sha256: item.sha256 || null, signal,
      retries: opts.retries, onProgress: (p) => bar.update(p),
      onRetry: (err, n) => process.stderr.write(`\n${err.message}; retrying (${n}/${opts.retries})\n`),
    });
  } finally {
    bar.stop();
  }
}

/** Setup questions RWKV-cpp-node asked after the download (threads, GPU offload); skipped with --yes. */
async function askSettings(opts, cfg) {
  const threads = opts.threads !== undefined ? opts.threads : cfg.threads;
  const gpu = opts.gpu !== undefined ? opts.gpu : cfg.gpuOffload;
  if (opts.yes || !process.stdin.isTTY) return { threads: threads ?? Math.min(4, os.cpus().length), gpuOffload: gpu ?? 0 };
  const { input } = require('@inquirer/prompts');
  const t = await input({
    message: `How many CPU threads? (${os.cpus().length} here; about 4 is usually best, memory bandwidth is the limit)`,
    default: String(threads ?? Math.min(4, os.cpus().length)),
    validate: (v) => { try { parseThreads(v); return true; } catch (e) { return e.message; } },
  });
  const g = await input({
    message: 'GPU offload: layers, or a percentage such as 50% (0 = CPU only)?',
    default: String(gpu ?? 0),
    validate: (v) => { try { parseGpu(v); return true; } catch (e) { return e.message; } },
  });
  return { threads: parseThreads(t), gpuOffload: parseGpu(g) };
}

/** The whole flow. Resolves to the downloaded model's path. */
async function runSetup(opts) {
  const catalog = loadCatalog();
  const home = rwkvHome();
  const dir = path.resolve(opts.dir || home);
  const mirror = opts.mirror || process.env.RWKV_MIRROR || null;
  const entry = await pickEntry(catalog, opts, dir);
  const url = withMirror(entry.url, mirror);
  const dest = path.join(dir, entry.file);
  const out = process.stderr;
  out.write(`Model: ${entry.label}\n  file: ${dest}\n  from: ${url}\n`);
  if (!opts.yes && process.stdin.isTTY && process.stdout.isTTY) {
    const { confirm } = require('@inquirer/prompts');
    if (!(await confirm({ message: 'Download it?', default: true }))) {
      out.write('Nothing downloaded.\n');
      return null;
    }
  }

  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('Ctrl-C'));
  process.on('SIGINT', onSigint);
  try {
    const res = await fetchOne({ ...entry, url }, dest, opts, controller.signal, entry.file);
    out.write(res.skipped ? `Already downloaded: ${dest}\n` : `Downloaded ${formatBytes(res.bytes)} to ${dest}${entry.sha256 ? ' (SHA-256 verified)' : ''}\n`);
    const vocab = entry.vocab && catalog.vocabs[entry.vocab];
    if (vocab) {
      const beside = path.join(dir, vocab.file);
      if (fs.existsSync(beside) || fs.existsSync(path.join(home, vocab.file))) out.write(`Tokenizer vocabulary ${vocab.file} is already there\n`);
      else {
        await fetchOne({ ...vocab, url: withMirror(vocab.url, mirror), bytesExact: true }, beside, opts, controller.signal, vocab.file);
        out.write(`Downloaded the tokenizer vocabulary to ${beside}\n`);
      }
    } else if (entry.vocab === null) {
      out.write('Note: the vocabulary this model needs is unknown; pass --vocab world|neox to fetch it\n');
    }
    if (opts.config === false) return dest;
    const cfg = readConfig();
    const settings = await askSettings(opts, cfg);
    const file = writeConfig({ model: dir === path.resolve(home) ? entry.file : dest, ...settings });
    out.write(`Saved to ${file}: model ${entry.file}, threads ${settings.threads}, gpuOffload ${settings.gpuOffload}\n`);
    out.write('Start chatting with: npx rwkv-node\n');
    return dest;
  } catch (err) {
    if (err.code === 'E_ABORT') throw new InterruptedError(err.message);
    if (err.name === 'ExitPromptError') throw new InterruptedError('setup cancelled');
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

module.exports = { runSetup, entryForUrl };
