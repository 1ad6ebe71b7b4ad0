'use strict';
// Progress bars on stderr (stdout stays clean for replies and --json). On a terminal: a cli-progress
// bar redrawn in place; in logs and pipes: a line every 25 % so CI output stays short.
const cliProgress = require('cli-progress');

const units = ['B', 'kB', 'MB', 'GB', 'TB'];
function formatBytes(n) {
  if (n == null || !Number.isFinite(n)) return '?';
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : n >= 100 ? 0 : n >= 10 ? 1 : 2)} ${units[i]}`;
}

function formatSeconds(s) {
  if (!Number.isFinite(s) || s < 0) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** Lines at 0/25/50/75/100 % for streams that are not terminals. */
function stepLogger(stream, label) {
  let next = 0;
  return (fraction, detail = '') => {
    const pct = Math.floor(fraction * 100);
    if (pct < next) return;
    stream.write(`${label}: ${pct}%${detail ? ` ${detail}` : ''}\n`);
    next = pct - (pct % 25) + 25;
  };
}

/** A bar for a download: percent, bytes, speed and ETA. update({downloaded, total, resumedFrom}). */
function downloadBar(label, { stream = process.stderr, enabled = true } = {}) {
  const t0 = Date.now();
  let first = null;
  const speedOf = (p) => {
    const secs = (Date.now() - t0) / 1000;
    return secs > 0.2 ? (p.downloaded - first) / secs : 0;
  };
  if (!enabled) return { update() {}, stop() {} };
  if (!stream.isTTY) {
    const log = stepLogger(stream, label);
    return {
      update(p) {
        if (first === null) first = p.downloaded;
        if (p.total) log(p.downloaded / p.total, `(${formatBytes(p.downloaded)} of ${formatBytes(p.total)})`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% {done}/{size} {speed}/s ETA {eta}`,
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (first === null) first = p.downloaded;
      const total = p.total || Math.max(p.downloaded, 1);
      const speed = speedOf(p);
      const payload = { done: formatBytes(p.downloaded), size: formatBytes(p.total), speed: formatBytes(speed), eta: speed > 0 && p.total ? formatSeconds((p.total - p.downloaded) / speed) : '?' };
      if (!started) {
        bar.start(total, p.downloaded, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(p.downloaded, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A bar for work measured as a fraction 0..1 (quantize, synthetic models). */
function fractionBar(label, { stream = process.stderr } = {}) {
  if (!stream.isTTY) {
    const log = stepLogger(stream, label);
    return { update: (f) => log(f), stop() {} };
  }
  const bar = new cliProgress.SingleBar({ stream, format: `${label} [{bar}] {percentage}% | {duration_formatted}`, barsize: 30, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(100, 0);
  return {
    update: (f) => bar.update(Math.round(Math.min(1, Math.max(0, f)) * 100)),
    stop: () => bar.stop(),
  };
}

module.exports = { downloadBar, fractionBar, formatBytes, formatSeconds };
