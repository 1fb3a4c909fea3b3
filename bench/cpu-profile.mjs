// Summarises a V8 .cpuprofile (from `node --cpu-prof`, or `BENCH_CPU_PROF=dir npm run bench`):
// self time by function and by package, largest first.
//
//   node bench/cpu-profile.mjs <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/cpu-profile.mjs <file.cpuprofile> [rows]\n');
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
profile.samples.forEach((id, i) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfMicros.values()].reduce((sum, micros) => sum + micros, 0);

/** node_modules/<package> (scoped too), the app's own file, or node's internals. */
function owner(url) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1];
  if (url.includes('/dist/') || url.includes('/src/'))
    return `app ${url.replace(/.*\/(dist|src)\//, '')}`;
  return url.startsWith('node:') ? 'node internals' : url || '(native/VM)';
}

const byFunction = new Map();
const byOwner = new Map();
for (const [id, micros] of selfMicros) {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const name = `${functionName || '(anonymous)'}  ${url.replace(/.*node_modules\//, '')}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  const who = owner(url);
  const key = who.startsWith('app ') ? 'app (dist)' : who;
  byOwner.set(key, (byOwner.get(key) ?? 0) + micros);
}

function print(title, map) {
  process.stdout.write(`\n${title}\n`);
  for (const [name, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    const share = ((micros / total) * 100).toFixed(1).padStart(5);
    process.stdout.write(`${share}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
  }
}

process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n`);
print('Self time by package', byOwner);
print('Self time by function', byFunction);
