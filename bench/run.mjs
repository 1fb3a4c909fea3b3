// `npm run bench`: the built app (`node dist/main.js`) against bare Fastify (bench/baseline.mjs)
// and bare NestJS (bench/nest-floor.mjs), and against itself in other configurations, over loopback with autocannon. Each scenario
// warms both sides up, then alternates A and B runs and takes the median of each figure.
// Prints a table and writes bench/RESULTS.md and bench/results.svg.
//
// Environment: DATABASE_URL, REDIS_URL (defaults below), BENCH_SECONDS (5, per run),
// BENCH_ROUNDS (5), BENCH_WARMUP_SECONDS (3), BENCH_CONNECTIONS (20), BENCH_MEMORY_REQUESTS
// (500000), BENCH_ONLY (a comma list of scenario keys, for development), BENCH_CPU_PROF (a
// directory: the apps run with --cpu-prof and write their profiles there at exit;
// bench/cpu-profile.mjs summarises one).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync, mkdirSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

// ---------------------------------------------------------------------------------------------
// Load generation: autocannon runs in a worker thread, so that the orchestrator's own event
// loop (progress, timers) never delays it.

async function loadWorker() {
  const { default: autocannon } = await import('autocannon');
  // Inside a worker thread autocannon hands back its raw histograms; its public
  // aggregateResult turns them into the usual summary.
  const raw = await autocannon(workerData);
  const result = autocannon.aggregateResult([raw], workerData);
  parentPort.postMessage({
    rps: raw.totalCompletedRequests / raw.duration,
    total: raw.totalCompletedRequests,
    duration: raw.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.average,
    non2xx: raw.non2xx,
    errors: raw.errors + raw.timeouts,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
    ),
    bytesPerResponse: raw.totalCompletedRequests ? raw.totalBytes / raw.totalCompletedRequests : 0,
  });
}

/** One autocannon run in a worker thread; resolves with its summary. */
function load(options) {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: options });
    worker.once('message', resolvePromise);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Settings

const env = process.env;
const DATABASE_URL = env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = env.REDIS_URL || 'redis://127.0.0.1:6379';
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 5);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 3);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 20);
const TAIL_CONNECTIONS = 100;
const LOGIN_CONNECTIONS = 8;
/**
 * A sign-in flood: logins sent at a fixed rate, whatever the answers, as an attacker's script
 * does. At cost 12 bcrypt verifies a few logins a second here, so 500 a second is a hundred
 * times its capacity or more (the scenario measures and checks that multiple). A closed loop
 * (each connection sending its next login the moment the last is answered) would measure
 * something else: how one event loop shares itself between two equally busy clients, which is
 * about half for any pair of routes, bcrypt or not.
 */
const FLOOD_RATE = Number(env.BENCH_FLOOD_RATE ?? 500);
const FLOOD_CONNECTIONS = CONNECTIONS;
const MEMORY_REQUESTS = Number(env.BENCH_MEMORY_REQUESTS ?? 500_000);
const MEMORY_FIRST = Math.round(MEMORY_REQUESTS / 10);
const ONLY = env.BENCH_ONLY ? new Set(env.BENCH_ONLY.split(',')) : null;
const CPU_PROF = env.BENCH_CPU_PROF ? resolve(env.BENCH_CPU_PROF) : null;
const PASSWORD = 'bench-password-1';
/** The built app; another build of it can be named for development. */
const APP_ENTRY = env.BENCH_APP_ENTRY || 'dist/main.js';

/** Production defaults, except budgets large enough for the load (and a quiet .env). */
const APP_ENV = {
  DATABASE_URL,
  REDIS_URL,
  HOST: '127.0.0.1',
  RATE_LIMIT_MAX: '100000000',
  LOGIN_RATE_LIMIT_MAX: '1000000',
  BCRYPT_COST: '12',
  LOG_LEVEL: 'info',
  CACHE_TTL_SECONDS: '600',
};

// ---------------------------------------------------------------------------------------------
// Output

function say(line = '') {
  process.stdout.write(`${line}\n`);
}

const fmt = {
  int: (n) => Math.round(n).toLocaleString('en-US'),
  ms: (n) => `${Number.isInteger(n) ? n : n.toFixed(1)} ms`,
  ratio: (n) => `${n.toFixed(2)}x`,
  bytes: (n) => `${fmt.int(n)} B`,
  mb: (n) => `${n.toFixed(1)} MB`,
};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and stopped at the end, on error and on SIGINT.

const children = new Set();

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

/**
 * Starts `node <args>` and resolves once `/health/live` answers 200. With `cgroup` (the
 * `cgroup.procs` file of a memory cgroup), the process runs inside it.
 */
async function startNode(name, args, extraEnv, cgroup) {
  const port = await freePort();
  const nodeArgs = CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  const [command, commandArgs] = cgroup
    ? ['sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroup, process.execPath, ...nodeArgs, ...args]]
    : [process.execPath, [...nodeArgs, ...args]];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { ...process.env, ...extraEnv, PORT: String(port) },
    // The app logs JSON lines on stdout, as in production; they are discarded here.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolvePromise) => child.once('exit', resolvePromise));
  const handle = { name, child, port, url: `http://127.0.0.1:${port}`, exited };
  children.add(handle);
  void exited.then(() => children.delete(handle));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited at start:\n${stderr}`);
    const status = await request(handle.url, { path: '/health/live' }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return handle;
    await sleep(200);
  }
  throw new Error(`${name} did not start within 90 s:\n${stderr}`);
}

function startApp(name, extraEnv = {}, cgroup = undefined) {
  say(`  starting ${name}`);
  return startNode(name, [APP_ENTRY], { ...APP_ENV, ...extraEnv }, cgroup);
}

/** The memory limit of the app's container in deploy/k8s/base/deployment.yaml, in bytes. */
function podMemoryLimit() {
  const manifest = readFileSync(join(ROOT, 'deploy/k8s/base/deployment.yaml'), 'utf8');
  const match = /limits:\s*\n(?:\s+cpu:.*\n)?\s+memory:\s*'?(\d+)(Mi|Gi)/.exec(manifest);
  if (!match) throw new Error('no memory limit found in deploy/k8s/base/deployment.yaml');
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
}

/**
 * A memory cgroup (v1 or v2) limited to `bytes`, for running the app as in its pod: Node sizes
 * V8's heap from the memory it may use, which outside a container is the whole machine's.
 * Resolves to the cgroup's `cgroup.procs` and a function that removes it, or to null where
 * cgroups cannot be made (not root, no memory controller).
 */
function memoryCgroup(bytes) {
  const name = `docs-api-bench-${process.pid}`;
  for (const [root, limitFile] of [
    ['/sys/fs/cgroup/memory', 'memory.limit_in_bytes'],
    ['/sys/fs/cgroup', 'memory.max'],
  ]) {
    const dir = join(root, name);
    try {
      mkdirSync(dir);
    } catch {
      continue;
    }
    try {
      writeFileSync(join(dir, limitFile), String(bytes));
      return { procs: join(dir, 'cgroup.procs'), remove: () => rmdirSync(dir) };
    } catch {
      rmdirSync(dir);
    }
  }
  return null;
}

async function stop(handle) {
  if (!children.has(handle)) return;
  handle.child.kill('SIGTERM');
  const killer = setTimeout(() => handle.child.kill('SIGKILL'), 15_000);
  await handle.exited;
  clearTimeout(killer);
}

async function stopAll() {
  await Promise.all([...children].map(stop));
}

const sleep = (ms) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

/** One HTTP request; resolves with status, headers, the raw (still encoded) body. */
function request(base, { method = 'GET', path, headers = {}, body } = {}) {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(new URL(path, base), { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () =>
        resolvePromise({
          status: res.statusCode,
          headers: res.headers,
          raw: Buffer.concat(chunks),
        }),
      );
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end(body);
  });
}

async function postJson(base, path, payload, headers = {}) {
  const response = await request(base, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
  if (response.status >= 300) {
    throw new Error(`POST ${path}: ${response.status} ${response.raw.toString()}`);
  }
  return { ...response, json: JSON.parse(response.raw.toString() || 'null') };
}

/** Resident set size (VmRSS), or its peak so far (VmHWM), of a process in MB. */
function rssMegabytes(pid, field = 'VmRSS') {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)[1]) / 1024;
}

// ---------------------------------------------------------------------------------------------
// Data

/** A pseudo-random but repeatable JSON array of records, like an API export. */
function jsonContent(targetBytes) {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const words = ['alpha', 'bravo', 'delta', 'echo', 'lima', 'oscar', 'sierra', 'tango', 'zulu'];
  const records = [];
  let size = 2;
  for (let i = 1; size < targetBytes; i += 1) {
    const record = {
      id: i,
      name: `${words[Math.floor(next() * words.length)]} ${words[Math.floor(next() * words.length)]}`,
      email: `user${Math.floor(next() * 10_000)}@example.com`,
      active: next() > 0.3,
      score: Math.round(next() * 10_000) / 100,
      tags: [words[Math.floor(next() * words.length)], words[Math.floor(next() * words.length)]],
    };
    records.push(record);
    size += JSON.stringify(record).length + 1;
  }
  return JSON.stringify(records);
}

/** Signs up and logs in a bench user, creates the documents, warms the caches. */
async function seed(app, redis) {
  const username = `bench_${randomBytes(6).toString('hex')}`;
  const credentials = { username, password: PASSWORD };
  const { json: user } = await postJson(app.url, '/auth/signup', credentials);
  const login = await postJson(app.url, '/auth/login', credentials);
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  const create = async (document) =>
    (await postJson(app.url, '/documents', document, { cookie })).json;
  const small = await create({
    title: 'Hot path',
    content: 'A short public note, read by many. '.repeat(8),
    visibility: 'public',
  });
  // The response of GET /documents/{id} for this one is about 16 KiB of JSON.
  const large = await create({
    title: 'Sixteen KiB of JSON',
    content: jsonContent(14_200),
    contentType: 'application/json',
    visibility: 'public',
  });
  const documents = {};
  for (const [name, document] of Object.entries({ small, large })) {
    const read = async () => request(app.url, { path: `/documents/${document.id}` });
    await read(); // fills the cache
    const response = await read();
    if (response.headers['x-cache'] !== 'HIT') throw new Error(`${name} document is not cached`);
    documents[name] = { id: document.id, bytes: response.raw.length };
    // The baseline replies with exactly the app's body.
    await redis.set(`bench:document:${document.id}`, response.raw.toString());
  }
  return { user, credentials, cookie, documents };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/** A load for autocannon against one target. */
function target(handle, path, extra = {}) {
  const options = { url: `${handle.url}${path}`, connections: CONNECTIONS, duration: SECONDS };
  // A run of a fixed number of requests has no duration.
  if (extra.amount) delete options.duration;
  return { ...options, ...extra };
}

function describe(result) {
  const non2xx = result.non2xx + result.errors;
  return (
    `${fmt.int(result.rps).padStart(7)} req/s  p50 ${fmt.ms(result.p50).padStart(7)}  ` +
    `p99 ${fmt.ms(result.p99).padStart(7)}${non2xx ? `  non-2xx/errors ${non2xx}` : ''}`
  );
}

/** Medians of every figure over the runs of one series. */
function summarise(runs) {
  const pick = (key) => median(runs.map((run) => run[key]));
  return {
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    mean: pick('mean'),
    bytesPerResponse: pick('bytesPerResponse'),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0),
    runs,
  };
}

/**
 * Warms every series up once, then runs them in alternating order for ROUNDS rounds
 * (A B, B A, A B, ...), and returns the medians per series.
 */
async function compare(scenario, series) {
  for (const [label, options] of Object.entries(series)) {
    const result = await load({ ...options, duration: WARMUP_SECONDS });
    say(`  ${scenario}  warm-up     ${label.padEnd(26)} ${describe(result)}`);
  }
  const runs = Object.fromEntries(Object.keys(series).map((label) => [label, []]));
  for (let round = 1; round <= ROUNDS; round += 1) {
    const order = Object.entries(series);
    if (round % 2 === 0) order.reverse();
    for (const [label, options] of order) {
      const result = await load(options);
      runs[label].push(result);
      say(`  ${scenario}  round ${round}/${ROUNDS}   ${label.padEnd(26)} ${describe(result)}`);
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([label, list]) => [label, summarise(list)]));
}

/**
 * The median over rounds of `a`'s figure divided by `b`'s in the same round. The runs of a
 * round are back to back, so a machine that speeds up or slows down over minutes moves both.
 */
function pairedRatio(series, a, b, key = 'rps') {
  const ratios = series[a].runs.map((run, i) => run[key] / series[b].runs[i][key]);
  return { value: median(ratios), rounds: ratios };
}

/** `0.42x (rounds 0.40, 0.42, 0.47)` */
function showRatio({ value, rounds }) {
  return `${fmt.ratio(value)} (rounds ${rounds.map((r) => r.toFixed(2)).join(', ')})`;
}

function check(name, value, display, targetText, pass) {
  return { name, value, display, target: targetText, pass };
}

/** A figure shown beside the targets to read them by, with no target of its own. */
function reference(name, value, display) {
  return { name, value, display, target: '-', pass: null };
}

const verdict = {
  text: (c) => (c.pass === null ? 'REF' : c.pass ? 'PASS' : 'MISS'),
  markdown: (c) => (c.pass === null ? 'reference' : c.pass ? 'pass' : '**miss**'),
};

// ---------------------------------------------------------------------------------------------
// Scenarios. Each returns { series: {label: summary}, checks: [...] }.

const scenarios = [
  {
    key: 'framework',
    title: 'framework tax',
    what: 'app `GET /health/live` with `LOG_LEVEL=silent` vs bare Fastify returning the same JSON',
    async run({ silent, baseline, nestFloor }) {
      const series = await compare('framework', {
        'app (LOG_LEVEL=silent)': target(silent, '/health/live'),
        'bare Fastify': target(baseline, '/health/live'),
        'bare NestJS on Fastify': target(nestFloor, '/health/live'),
      });
      const ratio = pairedRatio(series, 'app (LOG_LEVEL=silent)', 'bare Fastify');
      const floor = pairedRatio(series, 'bare NestJS on Fastify', 'bare Fastify');
      return {
        series,
        checks: [
          check('req/s vs baseline', ratio.value, showRatio(ratio), '>= 0.90', ratio.value >= 0.9),
          reference('bare NestJS req/s vs baseline', floor.value, showRatio(floor)),
        ],
      };
    },
  },
  {
    key: 'hot',
    title: 'hot path',
    what: 'app `GET /documents/{id}` (public, cached) vs bare Fastify doing one Redis GET',
    async run({ app, silent, baseline, nestFloor, data }) {
      const path = `/documents/${data.documents.small.id}`;
      const series = await compare('hot path', {
        'app (cached read)': target(app, path),
        'bare Fastify + Redis GET': target(baseline, path),
        'bare NestJS + Redis GET': target(nestFloor, path),
        'app (LOG_LEVEL=silent)': target(silent, path),
      });
      const bare = 'bare Fastify + Redis GET';
      const ratio = pairedRatio(series, 'app (cached read)', bare);
      const floor = pairedRatio(series, 'bare NestJS + Redis GET', bare);
      const silentRatio = pairedRatio(series, 'app (LOG_LEVEL=silent)', bare);
      return {
        series,
        checks: [
          check('req/s vs baseline', ratio.value, showRatio(ratio), '>= 0.50', ratio.value >= 0.5),
          reference('bare NestJS req/s vs baseline', floor.value, showRatio(floor)),
          reference(
            'app without logging req/s vs baseline',
            silentRatio.value,
            showRatio(silentRatio),
          ),
        ],
      };
    },
  },
  {
    key: 'cache',
    title: 'cache payoff',
    what: 'cached read vs the same read with `CACHE_TTL_SECONDS=0`',
    async run({ app, noCache, data }) {
      const path = `/documents/${data.documents.small.id}`;
      const series = await compare('cache', {
        'app (cached)': target(app, path),
        'app (CACHE_TTL_SECONDS=0)': target(noCache, path),
      });
      const speedup = pairedRatio(series, 'app (cached)', 'app (CACHE_TTL_SECONDS=0)');
      const latency = pairedRatio(series, 'app (cached)', 'app (CACHE_TTL_SECONDS=0)', 'p50');
      return {
        series,
        checks: [
          check(
            'req/s cached / uncached',
            speedup.value,
            showRatio(speedup),
            '>= 3x',
            speedup.value >= 3,
          ),
          check(
            'p50 cached / uncached',
            latency.value,
            showRatio(latency),
            '<= 0.5x',
            latency.value <= 0.5,
          ),
        ],
      };
    },
  },
  {
    key: 'tail',
    title: 'tail',
    what: `hot path at ${TAIL_CONNECTIONS} connections`,
    async run({ app, data }) {
      const path = `/documents/${data.documents.small.id}`;
      const series = await compare('tail', {
        [`app, ${TAIL_CONNECTIONS} connections`]: target(app, path, {
          connections: TAIL_CONNECTIONS,
        }),
      });
      const [result] = Object.values(series);
      const spread = result.p99 / result.p50;
      return {
        series,
        checks: [
          check('p99 / p50', spread, fmt.ratio(spread), '<= 4x', spread <= 4),
          check(
            'non-2xx and errors',
            result.non2xx,
            String(result.non2xx),
            '0',
            result.non2xx === 0,
          ),
        ],
      };
    },
  },
  {
    key: 'compression',
    title: 'compression',
    what:
      '16 KiB JSON document with gzip vs without; a < 1 KiB response with compression on vs off ' +
      '(there is no setting that turns compression off, so "off" is the same request without ' +
      '`Accept-Encoding`: the plugin still runs its hooks and leaves the response alone)',
    async run({ app, data }) {
      const large = `/documents/${data.documents.large.id}`;
      const small = `/documents/${data.documents.small.id}`;
      const gzip = { headers: { 'accept-encoding': 'gzip' } };
      const identity = { headers: { 'accept-encoding': 'identity' } };
      // Two comparisons, each warmed up and alternated on its own.
      const series = {
        ...(await compare('compression', {
          '16 KiB, gzip': target(app, large, gzip),
          '16 KiB, identity': target(app, large, identity),
        })),
        ...(await compare('compression', {
          '< 1 KiB, gzip accepted': target(app, small, gzip),
          '< 1 KiB, identity': target(app, small, identity),
        })),
      };
      const speed = pairedRatio(series, '16 KiB, gzip', '16 KiB, identity');
      const saving =
        series['16 KiB, identity'].bytesPerResponse / series['16 KiB, gzip'].bytesPerResponse;
      const overhead = pairedRatio(series, '< 1 KiB, gzip accepted', '< 1 KiB, identity');
      return {
        series,
        checks: [
          check(
            '16 KiB: req/s gzip / identity',
            speed.value,
            showRatio(speed),
            '>= 0.50',
            speed.value >= 0.5,
          ),
          check(
            '16 KiB: bytes per response identity / gzip (headers included)',
            saving,
            fmt.ratio(saving),
            '>= 4x',
            saving >= 4,
          ),
          check(
            '< 1 KiB: req/s compression on / off',
            overhead.value,
            showRatio(overhead),
            '>= 0.95',
            overhead.value >= 0.95,
          ),
        ],
      };
    },
  },
  {
    key: 'write',
    title: 'write path',
    what: '`POST /documents` with a session cookie vs bare Fastify doing the same INSERT through pg',
    async run({ app, baseline, data }) {
      const body = JSON.stringify({
        title: 'Written by the benchmark',
        content: 'Some words that are stored and indexed for search. '.repeat(4),
        visibility: 'private',
      });
      const post = (headers) => ({
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
      const series = await compare('write', {
        'app POST /documents': target(app, '/documents', post({ cookie: data.cookie })),
        'bare Fastify + INSERT': target(baseline, '/documents', post({})),
      });
      const ratio = pairedRatio(series, 'app POST /documents', 'bare Fastify + INSERT');
      return {
        series,
        checks: [
          check('req/s vs baseline', ratio.value, showRatio(ratio), '>= 0.40', ratio.value >= 0.4),
        ],
      };
    },
  },
  {
    key: 'auth',
    title: 'auth isolation',
    what: `hot path while \`POST /auth/login\` (cost 12) is saturated by another client (${LOGIN_CONNECTIONS} connections)`,
    async run({ app, data }) {
      const hot = target(app, `/documents/${data.documents.small.id}`);
      const login = target(app, '/auth/login', {
        method: 'POST',
        connections: LOGIN_CONNECTIONS,
        duration: SECONDS + 2,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(data.credentials),
      });
      const describeLogin = (result) =>
        `login ${result.rps.toFixed(1)} req/s, p50 ${fmt.ms(result.p50)}`;
      const warm = await load({ ...hot, duration: WARMUP_SECONDS });
      say(`  auth  warm-up     ${'hot path solo'.padEnd(26)} ${describe(warm)}`);
      const solo = [];
      const loaded = [];
      const logins = [];
      const ratios = [];
      for (let round = 1; round <= ROUNDS; round += 1) {
        const alone = await load(hot);
        solo.push(alone);
        say(`  auth  round ${round}/${ROUNDS}   ${'hot path solo'.padEnd(26)} ${describe(alone)}`);
        const saturating = load(login);
        await sleep(1_000);
        const together = await load(hot);
        const loginResult = await saturating;
        loaded.push(together);
        logins.push(loginResult);
        ratios.push(together.rps / alone.rps);
        say(
          `  auth  round ${round}/${ROUNDS}   ${'hot path during logins'.padEnd(26)} ` +
            `${describe(together)}  (${describeLogin(loginResult)})`,
        );
        // Let queued hashes drain before the next solo run.
        await sleep(3_000);
      }
      const ratio = median(ratios);
      return {
        series: {
          'hot path solo': summarise(solo),
          'hot path during logins': summarise(loaded),
          'POST /auth/login (saturating)': summarise(logins),
        },
        checks: [
          check(
            'req/s during logins / solo (median of rounds)',
            ratio,
            fmt.ratio(ratio),
            '>= 0.50',
            ratio >= 0.5,
          ),
        ],
        notes: `Per-round ratios: ${ratios.map((r) => r.toFixed(2)).join(', ')}.`,
      };
    },
  },
  {
    key: 'flood',
    title: 'sign-in flood',
    what: `hot path while ${FLOOD_RATE} logins/s over ${FLOOD_CONNECTIONS} connections flood \`POST /auth/login\` (cost 12), far above bcrypt's capacity`,
    async run({ app, data }) {
      const hot = target(app, `/documents/${data.documents.small.id}`);
      const flood = target(app, '/auth/login', {
        method: 'POST',
        connections: FLOOD_CONNECTIONS,
        overallRate: FLOOD_RATE,
        // Each latency as measured: autocannon's correction for a fixed rate would add a
        // synthetic sample per millisecond of every queued login's wait (its expected interval
        // is ceil(1 / rate) ms), and those would outnumber the real answers.
        ignoreCoordinatedOmission: true,
        duration: SECONDS + 2,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(data.credentials),
      });
      const count = (result, code) => result.statusCodes?.[code] ?? 0;
      const describeFlood = (result) =>
        `login ${fmt.int(result.rps)} req/s: ${count(result, 200)} x 200, ` +
        `${count(result, 503)} x 503, p50 ${fmt.ms(result.p50)}, p99 ${fmt.ms(result.p99)}`;
      const warm = await load({ ...hot, duration: WARMUP_SECONDS });
      say(`  flood  warm-up     ${'hot path solo'.padEnd(26)} ${describe(warm)}`);
      const solo = [];
      const loaded = [];
      const floods = [];
      const ratios = [];
      for (let round = 1; round <= ROUNDS; round += 1) {
        const alone = await load(hot);
        solo.push(alone);
        say(`  flood  round ${round}/${ROUNDS}   ${'hot path solo'.padEnd(26)} ${describe(alone)}`);
        const flooding = load(flood);
        await sleep(1_000);
        const together = await load(hot);
        const floodResult = await flooding;
        loaded.push(together);
        floods.push(floodResult);
        ratios.push(together.rps / alone.rps);
        say(
          `  flood  round ${round}/${ROUNDS}   ${'hot path during the flood'.padEnd(26)} ` +
            `${describe(together)}  (${describeFlood(floodResult)})`,
        );
        await sleep(3_000);
      }
      const ratio = median(ratios);
      // What bcrypt got through during the flood: the logins it verified, per second.
      const capacity = median(floods.map((f) => count(f, 200) / (SECONDS + 2)));
      const multiple = median(floods.map((f) => f.rps)) / Math.max(capacity, 1e-9);
      const refused = median(floods.map((f) => count(f, 503) / Math.max(1, f.total)));
      const p50 = median(floods.map((f) => f.p50));
      const p99 = median(floods.map((f) => f.p99));
      const others = floods.reduce(
        (sum, f) => sum + f.total - count(f, 200) - count(f, 503) + f.errors,
        0,
      );
      return {
        series: {
          'hot path solo': summarise(solo),
          'hot path during the flood': summarise(loaded),
          'POST /auth/login (flood)': summarise(floods),
        },
        checks: [
          check(
            'req/s during the flood / solo (median of rounds)',
            ratio,
            fmt.ratio(ratio),
            '>= 0.50',
            ratio >= 0.5,
          ),
          check(
            'flood rate / logins bcrypt verified per second',
            multiple,
            `${fmt.int(multiple)}x`,
            '>= 50x',
            multiple >= 50,
          ),
          // Beyond the bound, sign-ins are refused rather than queued: most of a flood this far
          // above capacity is 503, answered sooner than one hash at cost 12 takes.
          check(
            'flood answers that are 503 HASHER_BUSY',
            refused,
            fmt.ratio(refused),
            '>= 0.50',
            refused >= 0.5,
          ),
          check('flood p50 latency', p50, fmt.ms(p50), '<= 100 ms', p50 <= 100),
          // No sign-in waits without bound: MAX_HASH_WAIT_MS (2 s) plus its own hash.
          check('flood p99 latency', p99, fmt.ms(p99), '<= 3000 ms', p99 <= 3000),
          check('flood answers other than 200 / 503', others, fmt.int(others), '0', others === 0),
        ],
        notes:
          `Per-round ratios: ${ratios.map((r) => r.toFixed(2)).join(', ')}. ` +
          `Flood rounds: ${floods.map(describeFlood).join('; ')}.`,
      };
    },
  },
  {
    key: 'memory',
    title: 'memory',
    what: `RSS of a fresh app process after ${fmt.int(MEMORY_REQUESTS)} hot-path requests vs after ${fmt.int(MEMORY_FIRST)}`,
    async run({ data, stopOthers }) {
      await stopOthers();
      const limit = podMemoryLimit();
      const cgroup = memoryCgroup(limit);
      const where = cgroup
        ? `in a memory cgroup of ${fmt.mb(limit / 1024 ** 2)}, the container limit of the Deployment`
        : 'without a memory limit (no memory cgroup could be made: this needs root)';
      say(`  memory  the app runs ${where}`);
      const app = await startApp('app (memory)', {}, cgroup?.procs).catch((error) => {
        cgroup?.remove();
        throw error;
      });
      await sleep(1_000);
      // The app is the shell's exec'd child: same pid.
      const idle = rssMegabytes(app.child.pid);
      say(`  memory  idle after start: RSS ${fmt.mb(idle)}`);
      const path = `/documents/${data.documents.small.id}`;
      const first = await load(target(app, path, { amount: MEMORY_FIRST }));
      await sleep(1_000);
      const early = rssMegabytes(app.child.pid);
      say(`  memory  after ${fmt.int(MEMORY_FIRST)}: RSS ${fmt.mb(early)}  ${describe(first)}`);
      const rest = await load(target(app, path, { amount: MEMORY_REQUESTS - MEMORY_FIRST }));
      await sleep(1_000);
      const late = rssMegabytes(app.child.pid);
      const peak = rssMegabytes(app.child.pid, 'VmHWM');
      say(`  memory  after ${fmt.int(MEMORY_REQUESTS)}: RSS ${fmt.mb(late)}  ${describe(rest)}`);
      await stop(app);
      cgroup?.remove();
      const growth = late / early;
      return {
        series: {
          [`first ${fmt.int(MEMORY_FIRST)} requests`]: summarise([first]),
          [`next ${fmt.int(MEMORY_REQUESTS - MEMORY_FIRST)} requests`]: summarise([rest]),
        },
        checks: [
          check(
            `RSS after ${fmt.int(MEMORY_REQUESTS)} / after ${fmt.int(MEMORY_FIRST)}`,
            growth,
            `${fmt.ratio(growth)} (${fmt.mb(early)} -> ${fmt.mb(late)})`,
            '<= 1.2x',
            growth <= 1.2,
          ),
          check(
            `RSS after ${fmt.int(MEMORY_REQUESTS)}`,
            late,
            fmt.mb(late),
            '< 250 MB',
            late < 250,
          ),
        ],
        notes:
          `The app ran ${where}. RSS idle after start: ${fmt.mb(idle)}; after ${fmt.int(MEMORY_FIRST)} requests: ` +
          `${fmt.mb(early)}; after ${fmt.int(MEMORY_REQUESTS)}: ${fmt.mb(late)}; peak over the ` +
          `run (VmHWM): ${fmt.mb(peak)}. RSS follows the GC cycle, so single readings vary.`,
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Environment description

async function describeMachine(pool, redis) {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
  const version = (name) =>
    JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  const postgres = (await pool.query('SHOW server_version')).rows[0].server_version;
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  return {
    machine: [
      ['CPU', `${cpu ?? os.cpus()[0]?.model} (${os.availableParallelism()} cores)`],
      ['memory', `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
      ['kernel', `${os.type()} ${os.release()} ${os.arch()}`],
      [
        'load average at start',
        os
          .loadavg()
          .map((n) => n.toFixed(2))
          .join(' '),
      ],
    ],
    versions: [
      ['Node.js', process.version],
      ['fastify', version('fastify')],
      ['@nestjs/core', version('@nestjs/core')],
      ['@nestjs/platform-fastify', version('@nestjs/platform-fastify')],
      ['PostgreSQL', postgres],
      ['Redis', redisVersion],
      ['autocannon', version('autocannon')],
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Reports

function printTable(outcomes) {
  say('');
  say('Medians per series');
  say(
    `${'scenario'.padEnd(16)}${'series'.padEnd(32)}${'req/s'.padStart(9)}${'p50'.padStart(9)}` +
      `${'p99'.padStart(9)}${'bytes/resp'.padStart(12)}${'non-2xx'.padStart(9)}`,
  );
  for (const { scenario, series } of outcomes) {
    for (const [label, s] of Object.entries(series)) {
      say(
        `${scenario.title.padEnd(16)}${label.padEnd(32)}${fmt.int(s.rps).padStart(9)}` +
          `${fmt.ms(s.p50).padStart(9)}${fmt.ms(s.p99).padStart(9)}` +
          `${fmt.int(s.bytesPerResponse).padStart(12)}${String(s.non2xx).padStart(9)}`,
      );
    }
  }
  say('');
  say('Targets');
  for (const { scenario, checks } of outcomes) {
    for (const c of checks) {
      say(
        `${scenario.title.padEnd(16)}${c.name.padEnd(62)}${c.display.padStart(30)}` +
          `${c.target.padStart(10)}  ${verdict.text(c)}`,
      );
    }
  }
}

const NOTES_HEADING = '## Profiling and fixes';

function markdownTable(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

async function writeResults(file, outcomes, environment, data, startedAt) {
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.mjs) on ${startedAt.toISOString()}; the chart is ` +
      '[results.svg](results.svg). Every figure is the median of the rounds; each run is listed ' +
      'below it.',
    '',
    '## Machine and versions',
    '',
    markdownTable(['', ''], [...environment.machine, ...environment.versions]),
    '',
    '## Method',
    '',
    `- Load: autocannon over loopback in a worker thread of the orchestrator, ${CONNECTIONS} ` +
      `connections (tail: ${TAIL_CONNECTIONS}), ${SECONDS} s per run, ${ROUNDS} rounds after a ` +
      `${WARMUP_SECONDS} s warm-up of each series; the series of a scenario alternate ` +
      '(A B, B A, A B, ...). Each ratio is the median of the ratios of the rounds (A over B in the ' +
      'same round, listed after it): the machine drifts over minutes, and a round moves both.',
    '- The app is `node dist/main.js` with its production defaults (logging at `info` to ' +
      'stdout, helmet, compression, the per-IP rate limiter on Redis), with `RATE_LIMIT_MAX=' +
      `${APP_ENV.RATE_LIMIT_MAX}\` and \`LOGIN_RATE_LIMIT_MAX=${APP_ENV.LOGIN_RATE_LIMIT_MAX}\` ` +
      'so that the load is never refused. Its stdout goes to /dev/null.',
    '- The baseline is bench/baseline.mjs: bare Fastify, no logger, on the same PostgreSQL and ' +
      'Redis (pg pool of 10, like the app).',
    '- Reference series (no target of their own): bench/nest-floor.mjs, a NestJS application on ' +
      'Fastify with one controller per route and nothing else (the floor of any NestJS app), and ' +
      'the app with `LOG_LEVEL=silent` on the hot path (what its request logging costs).',
    `- Documents: a public one whose \`GET /documents/{id}\` body is ` +
      `${data.documents.small.bytes} bytes (hot path), and a public \`application/json\` one ` +
      `whose body is ${data.documents.large.bytes} bytes (compression).`,
    '- Latencies are autocannon\'s (every response; 1 ms resolution). "bytes/resp" is ' +
      'what autocannon read per response, headers included.',
    '',
    '## Targets',
    '',
    markdownTable(
      ['scenario', 'figure', 'value', 'target', 'result'],
      outcomes.flatMap(({ scenario, checks }) =>
        checks.map((c) => [scenario.title, c.name, c.display, c.target, verdict.markdown(c)]),
      ),
    ),
    '',
    '## Figures',
  ];
  for (const { scenario, series, notes } of outcomes) {
    lines.push('', `### ${scenario.title}`, '', `${scenario.what}.`, '');
    const rows = [];
    for (const [label, s] of Object.entries(series)) {
      rows.push([
        `**${label}** (median)`,
        `**${fmt.int(s.rps)}**`,
        `**${fmt.ms(s.p50)}**`,
        `**${fmt.ms(s.p99)}**`,
        fmt.int(s.bytesPerResponse),
        String(s.non2xx),
      ]);
      s.runs.forEach((run, i) =>
        rows.push([
          `${label}, run ${i + 1}`,
          fmt.int(run.rps),
          fmt.ms(run.p50),
          fmt.ms(run.p99),
          fmt.int(run.bytesPerResponse),
          String(run.non2xx + run.errors),
        ]),
      );
    }
    lines.push(markdownTable(['series', 'req/s', 'p50', 'p99', 'bytes/resp', 'non-2xx'], rows));
    if (notes) lines.push('', notes);
  }
  // The hand-written investigation notes below the generated part survive each run.
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const notesAt = previous.indexOf(NOTES_HEADING);
  lines.push(
    '',
    notesAt >= 0 ? previous.slice(notesAt).trimEnd() : `${NOTES_HEADING}\n\nNone yet.`,
    '',
  );
  // Formatted as `npm run lint` wants it (aligned tables).
  const { default: prettier } = await import('prettier');
  const options = await prettier.resolveConfig(file);
  writeFileSync(file, await prettier.format(lines.join('\n'), { ...options, filepath: file }));
}

const escapeXml = (text) =>
  String(text).replace(
    /[<>&"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c],
  );

/** Two horizontal bar charts side by side, req/s and p99, one row per series. */
function writeChart(file, outcomes) {
  const rows = outcomes.flatMap(({ scenario, series }) =>
    Object.entries(series).map(([label, s]) => ({ scenario: scenario.title, label, ...s })),
  );
  const labelWidth = 330;
  const panelWidth = 300;
  const gap = 40;
  const rowHeight = 22;
  const top = 60;
  const width = labelWidth + 2 * panelWidth + 2 * gap;
  const height = top + rows.length * rowHeight + 30;
  const maxRps = Math.max(...rows.map((r) => r.rps));
  const maxP99 = Math.max(...rows.map((r) => r.p99), 1);
  const palette = ['#2f6690', '#d9822b', '#3a7d44', '#8e5572', '#5c6b73', '#b5453a', '#6d597a'];
  const colors = new Map();
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">docs-api benchmark: medians per series</text>`,
    `<text x="${labelWidth}" y="48" font-weight="bold">requests per second</text>`,
    `<text x="${labelWidth + panelWidth + gap}" y="48" font-weight="bold">p99 latency (ms, log scale)</text>`,
  ];
  rows.forEach((row, i) => {
    if (!colors.has(row.scenario)) colors.set(row.scenario, palette[colors.size % palette.length]);
    const color = colors.get(row.scenario);
    const y = top + i * rowHeight;
    const rpsWidth = (row.rps / maxRps) * (panelWidth - 60);
    // Log scale: login latencies are seconds, the rest milliseconds.
    const p99Width = (Math.log10(1 + row.p99) / Math.log10(1 + maxP99)) * (panelWidth - 60);
    const x2 = labelWidth + panelWidth + gap;
    svg.push(
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(`${row.scenario}: ${row.label}`)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${rpsWidth.toFixed(1)}" height="${rowHeight - 8}" fill="${color}"/>`,
      `<text x="${(labelWidth + rpsWidth + 4).toFixed(1)}" y="${y + 15}">${fmt.int(row.rps)}</text>`,
      `<rect x="${x2}" y="${y + 4}" width="${p99Width.toFixed(1)}" height="${rowHeight - 8}" fill="${color}" fill-opacity="0.75"/>`,
      `<text x="${(x2 + p99Width + 4).toFixed(1)}" y="${y + 15}">${escapeXml(row.p99)}</text>`,
    );
  });
  svg.push('</svg>', '');
  writeFileSync(file, svg.join('\n'));
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const { default: pg } = await import('pg');
  const { Redis } = await import('ioredis');
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let interrupted = false;
  let data;
  let cleaning;
  /** Stops every child, then deletes what the run made; once, whatever calls it first. */
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await stopAll();
      if (data) {
        // The bench user's sessions and documents go with it.
        await pool.query('DELETE FROM users WHERE user_id = $1', [data.user.userId]).catch(() => 0);
        await redis
          .del(...Object.values(data.documents).map((d) => `bench:document:${d.id}`))
          .catch(() => 0);
      }
      await pool.end().catch(() => undefined);
      redis.disconnect();
    })());
  process.once('SIGINT', () => {
    interrupted = true;
    say('\nInterrupted: stopping every process');
    void cleanUp().finally(() => process.exit(130));
  });
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  try {
    await redis.connect();
    const environment = await describeMachine(pool, redis);
    say(`docs-api benchmark: ${SECONDS} s runs, ${ROUNDS} rounds, ${CONNECTIONS} connections`);
    for (const [name, value] of [...environment.machine, ...environment.versions]) {
      say(`  ${name}: ${value}`);
    }
    say('Starting servers');
    const app = await startApp('app');
    data = await seed(app, redis);
    const [silent, noCache, baseline, nestFloor] = await Promise.all([
      startApp('app (LOG_LEVEL=silent)', { LOG_LEVEL: 'silent' }),
      startApp('app (CACHE_TTL_SECONDS=0)', { CACHE_TTL_SECONDS: '0' }),
      (say('  starting bare Fastify baseline'),
      startNode('baseline', ['bench/baseline.mjs'], {
        DATABASE_URL,
        REDIS_URL,
        BENCH_OWNER_ID: String(data.user.userId),
      })),
      (say('  starting bare NestJS (bench/nest-floor.mjs)'),
      startNode('bare NestJS', ['bench/nest-floor.mjs'], { REDIS_URL })),
    ]);
    const context = { app, silent, noCache, baseline, nestFloor, data, stopOthers: stopAll };
    const outcomes = [];
    for (const scenario of scenarios) {
      if (ONLY && !ONLY.has(scenario.key)) continue;
      say(`\n${scenario.title}: ${scenario.what}`);
      const outcome = await scenario.run(context);
      outcomes.push({ scenario, ...outcome });
      for (const c of outcome.checks) {
        say(`  => ${c.name}: ${c.display} (target ${c.target}) ${verdict.text(c)}`);
      }
    }
    await stopAll();
    printTable(outcomes);
    if (ONLY) {
      // A partial run (BENCH_ONLY) must not replace the results of a whole one.
      say('\nBENCH_ONLY: bench/RESULTS.md and bench/results.svg left as they were');
    } else {
      await writeResults(join(HERE, 'RESULTS.md'), outcomes, environment, data, startedAt);
      writeChart(join(HERE, 'results.svg'), outcomes);
      say('\nWrote bench/RESULTS.md and bench/results.svg');
    }
  } catch (error) {
    if (!interrupted) {
      say(`\nBenchmark failed: ${error instanceof Error ? error.stack : String(error)}`);
      process.exitCode = 1;
    }
  } finally {
    await cleanUp();
  }
}

if (isMainThread) await main();
else await loadWorker();
