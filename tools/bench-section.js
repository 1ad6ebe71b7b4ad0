'use strict';
// Writes one generated section of BENCHMARKS.md between its markers (<!-- bench:NAME:start/end -->),
// headed by the date, commit, machine and the command that produced it; appended where it is not yet.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execSync } = require('child_process');

function writeBenchSection(root, name, title, command, body) {
  let commit = 'unknown';
  try { commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim(); } catch {}
  const cpu = (os.cpus()[0] || {}).model || 'unknown CPU';
  const section = [
    `<!-- bench:${name}:start -->`,
    `## ${title}`,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}, ${cpu}, ${os.cpus().length} vCPUs, load average ${os.loadavg()[0].toFixed(2)} at the start.`,
    `Command: \`${command}\``,
    '',
    body,
    `<!-- bench:${name}:end -->`,
  ].join('\n');
  const benchFile = path.join(root, 'BENCHMARKS.md');
  let text = fs.existsSync(benchFile) ? fs.readFileSync(benchFile, 'utf8') : '# Benchmarks\n';
  const re = new RegExp(`<!-- bench:${name}:start -->[\\s\\S]*<!-- bench:${name}:end -->`);
  text = re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(benchFile, text);
}

module.exports = { writeBenchSection };
