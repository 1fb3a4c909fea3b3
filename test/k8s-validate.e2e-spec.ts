import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

// `npm run k8s:validate` against deliberately broken copies of deploy/k8s: each copy gets one
// mistake, and the check meant to catch it must fail on the copy and pass on the real manifests.

const ROOT = resolve('.');
const K8S = join(ROOT, 'deploy/k8s');

interface Edit {
  /** Relative to deploy/k8s. */
  file: string;
  from: string;
  to: string;
}

interface Mistake {
  what: string;
  overlay: 'local' | 'production';
  edits: Edit[];
  /** `subject: message` of the check that must fail. */
  check: RegExp;
  /** Its reason. */
  because: RegExp;
}

const MISTAKES: Mistake[] = [
  {
    what: 'a replica count on the Deployment the HPA scales',
    overlay: 'production',
    edits: [
      {
        file: 'base/deployment.yaml',
        from: '  revisionHistoryLimit: 5\n',
        to: '  replicas: 3\n  revisionHistoryLimit: 5\n',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: no replicas: /,
    because: /replicas: 3 would reset the autoscaled count/,
  },
  {
    what: 'an HPA without scale-down stabilisation',
    overlay: 'production',
    edits: [{ file: 'base/hpa.yaml', from: '      stabilizationWindowSeconds: 300\n', to: '' }],
    check: /^HorizontalPodAutoscaler\/docs-api\/docs-api: behavior\.scaleDown\./,
    because: /scale-down stabilisation must be stated/,
  },
  {
    what: 'a pool of 10 per pod (10 x 11 > 100 - 15)',
    overlay: 'production',
    edits: [
      { file: 'base/config.env', from: 'DATABASE_POOL_MAX=7\n', to: 'DATABASE_POOL_MAX=10\n' },
    ],
    check: /^Deployment\/docs-api\/docs-api: connection budget: /,
    because: /= 110 <= .*: 110 connections at peak, 85 available/,
  },
  {
    what: 'an HPA maximum of 20 pods',
    overlay: 'production',
    edits: [{ file: 'base/hpa.yaml', from: 'maxReplicas: 10\n', to: 'maxReplicas: 20\n' }],
    check: /^Deployment\/docs-api\/docs-api: connection budget: /,
    because: /maxReplicas 20 \+ maxSurge 1\) = 147 .*147 connections at peak/,
  },
  {
    what: 'a PostgreSQL with max_connections 50',
    overlay: 'production',
    edits: [
      {
        file: 'overlays/production/deployment-patch.yaml',
        from: "postgres-max-connections: '100'",
        to: "postgres-max-connections: '50'",
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: connection budget: /,
    because: /77 connections at peak, 35 available/,
  },
  {
    what: 'no stated max_connections',
    overlay: 'production',
    edits: [
      {
        file: 'base/deployment.yaml',
        from: "    docs-api/postgres-max-connections: '100'\n",
        to: '',
      },
      {
        file: 'overlays/production/deployment-patch.yaml',
        from: "    docs-api/postgres-max-connections: '100'\n",
        to: '',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: connection budget: /,
    because: /docs-api\/postgres-max-connections is missing/,
  },
  {
    what: 'a reserve below superuser_reserved_connections',
    overlay: 'production',
    edits: [
      {
        file: 'overlays/production/deployment-patch.yaml',
        from: "postgres-reserved-connections: '15'",
        to: "postgres-reserved-connections: '0'",
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: connection budget: /,
    because: /must be at least 3/,
  },
  {
    what: 'a ConfigMap without the hash of its content',
    overlay: 'production',
    edits: [
      {
        file: 'base/kustomization.yaml',
        from: 'configMapGenerator:\n',
        to: 'generatorOptions:\n  disableNameSuffixHash: true\nconfigMapGenerator:\n',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: ConfigMap docs-api-config\S* is generated/,
    because: /a plain ConfigMap/,
  },
  {
    what: 'the metrics port in the Service',
    overlay: 'production',
    edits: [
      {
        file: 'base/service.yaml',
        from: '      targetPort: http\n      protocol: TCP\n',
        to: '      targetPort: http\n      protocol: TCP\n    - name: metrics\n      port: 9464\n      targetPort: metrics\n',
      },
    ],
    check: /^Service\/docs-api\/docs-api: does not expose the metrics port/,
    because: /port 9464 leads to it/,
  },
  {
    what: 'metrics left on the API port',
    overlay: 'production',
    edits: [{ file: 'base/config.env', from: 'METRICS_PORT=9464\n', to: '' }],
    check: /^Deployment\/docs-api\/docs-api: METRICS_PORT /,
    because: /unset: \/metrics would be served on the API port/,
  },
  {
    what: 'the metrics port open to every namespace',
    overlay: 'production',
    edits: [
      {
        file: 'overlays/production/networkpolicy-patch.yaml',
        from: '              kubernetes.io/metadata.name: monitoring\n',
        to: '              {}\n',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: NetworkPolicy admits the metrics port/,
    because: /a rule admits it from anywhere/,
  },
  {
    what: 'the Prometheus annotation on the API port',
    overlay: 'production',
    edits: [
      {
        file: 'base/deployment.yaml',
        from: "prometheus.io/port: '9464'",
        to: "prometheus.io/port: '7878'",
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: prometheus\.io\/port /,
    because: /\/metrics is served on 9464/,
  },
  {
    what: 'a PodMonitor scraping the API port',
    overlay: 'production',
    edits: [
      {
        file: 'components/podmonitor/podmonitor.yaml',
        from: '    - port: metrics\n',
        to: '    - port: http\n',
      },
    ],
    check: /^PodMonitor\/docs-api\/docs-api: scrapes /,
    because: /not the metrics port 9464/,
  },
  {
    what: 'a PodMonitor with a field prometheus-operator does not have',
    overlay: 'production',
    edits: [
      {
        file: 'components/podmonitor/podmonitor.yaml',
        from: '      interval: 30s\n',
        to: '      interval: 30s\n      scrapeEvery: 30s\n',
      },
    ],
    check: /^PodMonitor\/docs-api\/docs-api: valid monitoring\.coreos\.com\/v1 PodMonitor/,
    because: /unknown field\(s\) spec\.podMetricsEndpoints\[0\]\.scrapeEvery/,
  },
  {
    what: 'an HTTPRoute that routes /health',
    overlay: 'production',
    edits: [
      {
        file: 'overlays/production/httproute.yaml',
        from: '        - path: { type: PathPrefix, value: /auth }\n',
        to: '        - path: { type: PathPrefix, value: /auth }\n        - path: { type: PathPrefix, value: /health }\n',
      },
    ],
    check: /^HTTPRoute\/docs-api\/docs-api: keeps \/metrics/,
    because: /routes \/health\/live, \/health\/ready, \/health\/dependencies/,
  },
  {
    what: 'an HTTPRoute path type the Gateway API does not have',
    overlay: 'production',
    edits: [
      {
        file: 'overlays/production/httproute.yaml',
        from: '{ type: PathPrefix, value: /users }',
        to: '{ type: Prefix, value: /users }',
      },
    ],
    check: /^HTTPRoute\/docs-api\/docs-api: valid gateway\.networking\.k8s\.io\/v1 HTTPRoute/,
    because: /must be equal to one of the allowed values/,
  },
  {
    what: 'a liveness probe on /health/dependencies',
    overlay: 'production',
    edits: [
      {
        file: 'base/deployment.yaml',
        from: 'path: /health/live',
        to: 'path: /health/dependencies',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: livenessProbe GET /,
    because: /an outage of either would fail every pod/,
  },
  {
    what: 'a grace period that SIGKILLs a drain closing its pools',
    overlay: 'production',
    edits: [
      {
        file: 'base/deployment.yaml',
        from: 'terminationGracePeriodSeconds: 30',
        to: 'terminationGracePeriodSeconds: 18',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: terminationGracePeriodSeconds /,
    because: /SIGKILL would cut the drain short/,
  },
  {
    what: 'no spread over zones',
    overlay: 'production',
    edits: [
      {
        file: 'base/deployment.yaml',
        from: 'topologyKey: topology.kubernetes.io/zone',
        to: 'topologyKey: kubernetes.io/hostname',
      },
    ],
    check: /^Deployment\/docs-api\/docs-api: topology spread /,
    because: /no constraint on topology\.kubernetes\.io\/zone/,
  },
  {
    what: 'a Namespace that enforces only "baseline"',
    overlay: 'production',
    edits: [
      {
        file: 'overlays/production/namespace.yaml',
        from: 'pod-security.kubernetes.io/enforce: restricted',
        to: 'pod-security.kubernetes.io/enforce: baseline',
      },
    ],
    check: /^Namespace\/docs-api: Pod Security Admission labels /,
    because: /not "restricted": pod-security\.kubernetes\.io\/enforce/,
  },
  {
    what: 'no Namespace object',
    overlay: 'production',
    edits: [
      { file: 'overlays/production/kustomization.yaml', from: '  - namespace.yaml\n', to: '' },
    ],
    check: /^Namespace\/docs-api: Pod Security Admission labels /,
    because: /the render has no Namespace object/,
  },
  {
    what: 'a pod that may escalate privileges',
    overlay: 'local',
    edits: [
      {
        file: 'overlays/local/postgres.yaml',
        from: '            allowPrivilegeEscalation: false\n',
        to: '',
      },
    ],
    check: /^StatefulSet\/docs-api\/postgres: pods meet Pod Security Standard "restricted"/,
    because: /container postgres: allowPrivilegeEscalation is not false/,
  },
  {
    what: 'a counters Redis that evicts keys with a TTL',
    overlay: 'local',
    edits: [{ file: 'overlays/local/redis.yaml', from: '- noeviction\n', to: '- volatile-ttl\n' }],
    check: /^Deployment\/docs-api\/redis: Redis for rate-limit counters: /,
    because: /--maxmemory-policy is volatile-ttl/,
  },
  {
    what: 'a Redis maxmemory above its memory limit',
    overlay: 'local',
    edits: [{ file: 'overlays/local/redis.yaml', from: '- 192mb\n', to: '- 512mb\n' }],
    check: /^Deployment\/docs-api\/redis: Redis for rate-limit counters: /,
    because: /--maxmemory 512mb is not below the memory limit 256Mi/,
  },
  {
    what: 'an in-cluster PostgreSQL whose max_connections is not the stated one',
    overlay: 'local',
    edits: [
      {
        file: 'overlays/local/postgres.yaml',
        from: 'max_connections=100',
        to: 'max_connections=50',
      },
    ],
    check: /^StatefulSet\/docs-api\/postgres: max_connections /,
    because: /max_connections 50 .*the annotation says 100/,
  },
];

interface Line {
  ok: boolean;
  scope: string;
  /** `subject: message` */
  text: string;
}

/** Runs the validator on kustomization directories; its exit status is 1 on any failure. */
function validate(directories: string[]): Promise<Line[]> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['deploy/validate.mjs', ...directories],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && error.code !== 1) {
          reject(new Error(`k8s:validate exited ${String(error.code)}: ${stderr}`));
          return;
        }
        const lines = stdout
          .split('\n')
          .map((line) => /^(ok {2}|FAIL) {2}(\S+) {2}(.*)$/.exec(line))
          .filter((match) => match !== null)
          .map(([, status, scope, text]) => ({ ok: status === 'ok  ', scope, text }));
        resolvePromise(lines);
      },
    );
  });
}

describe('npm run k8s:validate on broken copies of the manifests', () => {
  let work: string;
  let lines: Line[];
  const copyScope = (index: number, overlay: string): string =>
    relative(ROOT, join(work, String(index), 'overlays', overlay));
  const real = (overlay: string): string => relative(ROOT, join(K8S, 'overlays', overlay));

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'docs-api-k8s-'));
    for (const [index, mistake] of MISTAKES.entries()) {
      const copy = join(work, String(index));
      await cp(K8S, copy, { recursive: true });
      for (const edit of mistake.edits) {
        const file = join(copy, edit.file);
        const text = await readFile(file, 'utf8');
        if (!text.includes(edit.from)) throw new Error(`${edit.file} has no ${edit.from}`);
        await writeFile(file, text.replace(edit.from, edit.to));
      }
    }
    lines = await validate([
      real('local'),
      real('production'),
      ...MISTAKES.map((mistake, index) => copyScope(index, mistake.overlay)),
    ]);
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.each(MISTAKES.map((mistake, index) => ({ ...mistake, index })))(
    'fails on $what',
    ({ index, overlay, check, because }) => {
      const matching = (scope: string): Line[] =>
        lines.filter((line) => line.scope === scope && check.test(line.text));
      const passing = matching(real(overlay));
      expect(passing.length).toBeGreaterThan(0);
      expect(passing.filter((line) => !line.ok)).toEqual([]);
      const failures = matching(copyScope(index, overlay)).filter((line) => !line.ok);
      expect(failures.length).toBeGreaterThan(0);
      for (const line of failures) expect(line.text).toMatch(because);
    },
  );

  it('renders every broken copy, so that each fails on its own check', () => {
    const scopes = MISTAKES.map((mistake, index) => copyScope(index, mistake.overlay));
    const renders = lines.filter((line) => /^kustomization: renders /.test(line.text));
    expect(renders.filter((line) => scopes.includes(line.scope) && line.ok)).toHaveLength(
      MISTAKES.length,
    );
  });
});
