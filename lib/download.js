'use strict';
// Downloads one file to disk, the way large model files need it: streamed (never held in memory),
// written to `<dest>.part` and renamed only once the size and SHA-256 check out, resumed with an HTTP
// Range request when a `.part` is already there, and cancellable with an AbortSignal. A failed or
// interrupted download therefore never leaves a file that looks complete.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Readable } = require('stream');

class DownloadError extends Error {
  /** code: E_HTTP, E_NETWORK, E_INCOMPLETE, E_SIZE, E_CHECKSUM, E_DISK, E_ABORT */
  constructor(message, code, extra = {}) {
    super(message);
    this.name = 'DownloadError';
    this.code = code;
    Object.assign(this, extra);
  }
}

const partPath = (dest) => `${dest}.part`;

function fileSize(p) {
  try {
    return fs.statSync(p).size;
  } catch {
    return -1;
  }
}

/** SHA-256 of a file (hex), streamed so multi-GB files are fine. */
async function sha256File(file) {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** Hashes an existing prefix into `hash`, so a resumed download is hashed without a second full read. */
async function hashPrefix(hash, file) {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk);
}

function diskError(err, file) {
  if (err && (err.code === 'ENOSPC' || err.code === 'EDQUOT')) {
    return new DownloadError(`the disk is full while writing ${file}; free some space and run the same command again to resume`, 'E_DISK', { cause: err });
  }
  if (err && (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS')) {
    return new DownloadError(`cannot write ${file} (${err.code}); choose another directory with --dir or RWKV_HOME`, 'E_DISK', { cause: err });
  }
  return null;
}

function abortError(signal) {
  const reason = signal && signal.reason && signal.reason.message ? ` (${signal.reason.message})` : '';
  return new DownloadError(`download interrupted${reason}; the partial file is kept, run the same command again to resume`, 'E_ABORT');
}

/** Total size from a 206's Content-Range ("bytes 100-199/200") or a 200's Content-Length. */
function totalFromResponse(res, start) {
  const range = res.headers.get('content-range');
  if (range) {
    const m = /\/(\d+)\s*$/.exec(range);
    if (m) return Number(m[1]);
  }
  const len = res.headers.get('content-length');
  if (len !== null && /^\d+$/.test(len)) return Number(len) + (res.status === 206 ? start : 0);
  return null;
}

/**
 * Downloads `url` to `dest`.
 * @param {{url: string, dest: string, bytes?: number|null, sha256?: string|null, signal?: AbortSignal,
 *   headers?: object, retries?: number, onProgress?: (p: {downloaded: number, total: number|null, resumedFrom: number}) => void,
 *   onRetry?: (err: Error, attempt: number) => void}} opt
 *   `bytes`: the exact size expected, when known; `sha256`: the expected hash (hex), when known.
 * @returns {Promise<{path: string, bytes: number, sha256: string, skipped: boolean, resumedFrom: number}>}
 */
async function download(opt) {
  const { dest } = opt;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const existing = await checkExisting(opt);
  if (existing) return existing;
  const retries = opt.retries === undefined ? 2 : opt.retries;
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptDownload(opt);
    } catch (err) {
      // Only a dropped connection is worth an automatic retry (it resumes); a 404, a bad checksum, a
      // full disk or Ctrl-C would fail the same way again.
      const transient = err.code === 'E_NETWORK' || err.code === 'E_INCOMPLETE';
      if (!transient || attempt >= retries || (opt.signal && opt.signal.aborted)) throw err;
      if (opt.onRetry) opt.onRetry(err, attempt + 1);
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
    }
  }
}

/** A destination already there with the right size (and hash, where known) is kept, else removed. */
async function checkExisting({ dest, bytes, sha256 }) {
  const size = fileSize(dest);
  if (size < 0) return null;
  if (bytes != null && size !== bytes) {
    fs.rmSync(dest, { force: true });
    return null;
  }
  if (!sha256) return { path: dest, bytes: size, sha256: null, skipped: true, resumedFrom: size };
  const digest = await sha256File(dest);
  if (digest === sha256.toLowerCase()) return { path: dest, bytes: size, sha256: digest, skipped: true, resumedFrom: size };
  fs.rmSync(dest, { force: true });
  return null;
}

async function attemptDownload(opt) {
  const { url, dest, bytes, signal } = opt;
  const part = partPath(dest);
  let start = Math.max(0, fileSize(part));
  if (bytes != null && start > bytes) {
    fs.rmSync(part, { force: true });
    start = 0;
  }
  if (signal && signal.aborted) throw abortError(signal);

  let res;
  try {
    const headers = { ...(opt.headers || {}) };
    if (start > 0) headers.Range = `bytes=${start}-`;
    res = await fetch(url, { headers, signal, redirect: 'follow' });
  } catch (err) {
    if (signal && signal.aborted) throw abortError(signal);
    const why = err.cause && (err.cause.code || err.cause.message) ? `${err.cause.code || ''} ${err.cause.message || ''}`.trim() : err.message;
    throw new DownloadError(`cannot reach ${url}: ${why}`, 'E_NETWORK', { cause: err });
  }

  if (res.status === 416 && start > 0) {
    // The .part already holds everything the server has (or is stale): check it, or start afresh.
    await res.body?.cancel();
    const total = totalFromResponse(res, start);
    if (total === start) return finish(opt, part, start, null, start);
    fs.rmSync(part, { force: true });
    return attemptDownload(opt);
  }
  if (!res.ok) {
    await res.body?.cancel();
    const hint = res.status === 404 ? ' (not found: the file may have moved; check the URL or the --mirror)' : res.status === 401 || res.status === 403 ? ' (access denied)' : '';
    throw new DownloadError(`HTTP ${res.status} ${res.statusText} for ${url}${hint}`, 'E_HTTP', { status: res.status });
  }
  if (res.status !== 206) start = 0; // the server ignored Range: start over
  const total = totalFromResponse(res, start);
  if (bytes != null && total != null && total !== bytes) {
    await res.body.cancel();
    throw new DownloadError(`${url} is ${total} bytes but ${bytes} were expected; the file on the server is not the one listed (try another --mirror)`, 'E_SIZE');
  }

  const hash = crypto.createHash('sha256');
  if (start > 0) await hashPrefix(hash, part);
  let downloaded = start;
  const report = () => opt.onProgress && opt.onProgress({ downloaded, total, resumedFrom: start });
  report();
  const out = fs.createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
  const outDone = new Promise((resolve, reject) => {
    out.on('error', reject);
    out.on('finish', resolve);
  });
  outDone.catch(() => {}); // read below; avoids an unhandled rejection while the loop still runs
  try {
    for await (const chunk of Readable.fromWeb(res.body)) {
      hash.update(chunk);
      downloaded += chunk.length;
      if (!out.write(chunk)) await Promise.race([new Promise((r) => out.once('drain', r)), outDone]);
      report();
    }
  } catch (err) {
    out.end();
    await outDone.catch(() => {});
    if (signal && signal.aborted) throw abortError(signal);
    throw diskError(err, part) || new DownloadError(`the connection dropped after ${downloaded} of ${total ?? '?'} bytes (${err.message}); run again to resume`, 'E_INCOMPLETE', { cause: err });
  }
  out.end();
  try {
    await outDone;
  } catch (err) {
    throw diskError(err, part) || err;
  }
  if (total != null && downloaded < total) {
    throw new DownloadError(`the connection closed after ${downloaded} of ${total} bytes; run again to resume`, 'E_INCOMPLETE');
  }
  return finish(opt, part, downloaded, hash.digest('hex'), start);
}

/** Verifies size and hash, then renames .part to the final name (atomic on one file system). */
async function finish({ dest, bytes, sha256 }, part, size, digest, resumedFrom) {
  if (bytes != null && size !== bytes) {
    fs.rmSync(part, { force: true });
    throw new DownloadError(`downloaded ${size} bytes but ${bytes} were expected; the partial file was removed`, 'E_SIZE');
  }
  const actual = digest || (await sha256File(part));
  if (sha256 && actual !== sha256.toLowerCase()) {
    fs.rmSync(part, { force: true });
    throw new DownloadError(`SHA-256 mismatch for ${path.basename(dest)}: expected ${sha256}, got ${actual}. The download was corrupted or the server sent another file; it was removed`, 'E_CHECKSUM');
  }
  fs.renameSync(part, dest);
  return { path: dest, bytes: size, sha256: actual, skipped: false, resumedFrom };
}

module.exports = { download, DownloadError, sha256File, partPath };
