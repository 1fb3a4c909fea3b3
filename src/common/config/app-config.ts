import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Thrown when the environment does not describe a valid configuration. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const bool = z.enum(['true', 'false']).transform((value) => value === 'true');

/** A comma list of origins (`https://app.example.com`), normalised to their `origin`. */
const origins = z
  .string()
  .transform((list) =>
    list
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).origin)));

/**
 * Whose X-Forwarded-For to believe: nobody (`false`), every peer (`true`), the nearest N hops,
 * or peers in a comma list of addresses and CIDRs. Fastify takes each form as it is.
 */
const trustProxy = z.string().transform((value, context): boolean | number | string => {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  const cidr = /^([0-9.]+|[0-9a-fA-F:]+)(\/\d{1,3})?$/;
  if (entries.every((entry) => cidr.test(entry))) return entries.join(',');
  context.addIssue({ code: 'custom', message: 'invalid' });
  return z.NEVER;
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A JSON object of header names to string values, added to every response. */
const customHeaders = z.string().transform((value, context): Record<string, string> => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const valid =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.entries(parsed).every(
      ([name, text]) =>
        HEADER_NAME.test(name) && typeof text === 'string' && !/[\r\n\0]/.test(text),
    );
  if (!valid) {
    context.addIssue({ code: 'custom', message: 'invalid' });
    return z.NEVER;
  }
  return parsed as Record<string, string>;
});

const postgresUrl = z.url({ protocol: /^postgres(ql)?$/ });
const redisUrl = z.url({ protocol: /^rediss?$/ });

/**
 * Every environment variable the service reads. Empty strings count as unset, so that a
 * `.env` line such as `DATABASE_URL=` selects the default.
 */
const envSchema = z.object({
  PORT: int(0, 65535).default(7878),
  HOST: z.string().min(1).default('0.0.0.0'),
  LISTEN_PATH: z.string().min(1).max(100).optional(),
  LISTEN_BACKLOG: int(1, 65_535).default(511),
  MAX_CONNECTIONS: int(0, 1_000_000).default(0),
  DATABASE_URL: postgresUrl.optional().describe('a postgres://user:pass@host:5432/db URL'),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_POOL_MAX: int(1, 1000).default(10),
  MIGRATIONS: z.enum(['auto', 'off']).default('auto').describe('auto or off'),
  MIGRATION_LOCK_WAIT_SECONDS: int(0, 86_400).default(300),
  MIGRATION_LOCK_TIMEOUT_MS: int(0, 3_600_000).default(10_000),
  MIGRATION_STATEMENT_TIMEOUT_MS: int(0, 86_400_000).default(900_000),
  REDIS_URL: redisUrl.optional().describe('a redis://host:6379 URL'),
  CACHE_REDIS_URL: redisUrl.optional().describe('a redis://host:6379 URL'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  BODY_LIMIT_BYTES: int(1, 1024 ** 3).default(1_048_576),
  REQUEST_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  KEEP_ALIVE_TIMEOUT_MS: int(1, 3_600_000).default(65_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(10_000),
  SHUTDOWN_DELAY_MS: int(0, 3_600_000).default(0),
  SESSION_TTL_SECONDS: int(60, 31_536_000).default(604_800),
  BCRYPT_COST: int(4, 31).default(12),
  RATE_LIMIT_MAX: int(0, 100_000_000).default(100),
  RATE_LIMIT_WINDOW_MS: int(1_000, 86_400_000).default(60_000),
  TRUST_PROXY: trustProxy
    .default(false)
    .describe('true, false, a hop count or a comma list of CIDRs'),
  LOGIN_RATE_LIMIT_MAX: int(1, 1_000_000).default(10),
  COOKIE_SECURE: bool.default(false),
  CACHE_TTL_SECONDS: int(0, 86_400).default(600),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  HTTP2: bool.default(false),
  CUSTOM_HEADERS: customHeaders
    .default({})
    .describe('a JSON object of header names to string values'),
  CORS_ORIGINS: origins.default([]).describe('a comma list of http(s) origins'),
  METRICS_PORT: int(0, 65535).optional(),
  GIT_COMMIT: z
    .string()
    .regex(/^[\w.-]{1,100}$/)
    .default('unknown')
    .describe('a commit id (letters, digits, "_", ".", "-")'),
});

export type Env = z.input<typeof envSchema>;

/** The names of every variable above, for tools that check deployments against them. */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** How the schema is brought up to date at start, and the bounds on doing it. */
export interface MigrationSettings {
  /**
   * `auto`: pending migrations are applied at start, under the migration lock. `off`: a deploy
   * step applies them (`node dist/main.js migrate`); the server refuses to start while any is
   * pending.
   */
  mode: 'auto' | 'off';
  /** How long to wait for the migration lock that another process holds; 0: not at all. */
  lockWaitSeconds: number;
  /** PostgreSQL `lock_timeout` of migration statements (0: none). */
  lockTimeoutMs: number;
  /** PostgreSQL `statement_timeout` of migration statements (0: none). */
  statementTimeoutMs: number;
}

export interface AppConfig {
  http: {
    /** HTTPS (and, with `http2`, HTTP/2 next to HTTP/1.1) when both files are given. */
    tls?: { certFile: string; keyFile: string; http2: boolean };
    /** Extra headers on every response, from the operator. */
    customHeaders: Record<string, string>;
    port: number;
    host: string;
    /** A Unix domain socket to listen on instead of TCP. */
    listenPath?: string;
    backlog: number;
    /** Open sockets at most; 0 for no cap. */
    maxConnections: number;
    bodyLimitBytes: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
  };
  database: {
    /** Unset: the server runs an embedded PostgreSQL under `dataDir`. */
    url?: string;
    dataDir: string;
    poolMax: number;
  };
  migrations: MigrationSettings;
  redis: {
    /** Rate-limit counters (and the cache, by default). Unset: both live in process memory. */
    url?: string;
    /** The document cache's Redis: CACHE_REDIS_URL, else `url`. */
    cacheUrl?: string;
  };
  /** Lifetime of cached documents; 0 turns the cache off. */
  cache: { ttlSeconds: number };
  log: { level: (typeof LOG_LEVELS)[number] };
  shutdown: { timeoutMs: number; delayMs: number };
  auth: {
    sessionTtlSeconds: number;
    bcryptCost: number;
    /** Attempts at signup and login per client IP, and at login per username, per window. */
    loginRateLimitMax: number;
    /** Set `Secure` on the session cookie: COOKIE_SECURE=true, or whenever TLS is on. */
    cookieSecure: boolean;
  };
  /** Requests per window per client IP for every route but health and metrics; 0 turns it off. */
  rateLimit: { max: number; windowMs: number };
  /**
   * Whose X-Forwarded-For gives the client IP (see `proxyTrust`); always set with
   * `http.listenPath`.
   */
  trustProxy: boolean | number | string;
  /** Browser origins other than the server's own that may call state-changing routes. */
  cors: { origins: string[] };
  metrics: {
    /** Serve /metrics on this port (of `http.host`) only; unset: on the main port. */
    port?: number;
    /** The `commit` label of `build_info`. */
    gitCommit: string;
  };
}

/**
 * Validates the environment and groups it by concern. The first invalid variable is reported
 * in one line that names it; values are never echoed, since URLs may carry passwords.
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0]);
    const expected = envSchema.shape[name as keyof typeof envSchema.shape]?.description;
    throw new ConfigError(
      `Invalid configuration: ${name}: ${expected ? `expected ${expected}` : issue.message}`,
    );
  }
  const e = parsed.data;
  if (Boolean(e.TLS_CERT_FILE) !== Boolean(e.TLS_KEY_FILE)) {
    throw new ConfigError('Invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE go together');
  }
  if (e.HTTP2 && !e.TLS_CERT_FILE) {
    throw new ConfigError('Invalid configuration: HTTP2: needs TLS_CERT_FILE and TLS_KEY_FILE');
  }
  if (e.LISTEN_PATH && (e.TRUST_PROXY === false || e.TRUST_PROXY === 0)) {
    // A Unix socket tells no client apart: every one would share one rate-limit budget.
    throw new ConfigError(
      'Invalid configuration: LISTEN_PATH needs TRUST_PROXY: on a Unix socket only the X-Forwarded-For of the proxy in front tells clients apart',
    );
  }
  if (e.CACHE_REDIS_URL && !e.REDIS_URL) {
    // Counters in process memory would let each replica grant the whole budget: refuse
    // rather than weaken rate limits that the operator meant to share.
    throw new ConfigError(
      'Invalid configuration: CACHE_REDIS_URL needs REDIS_URL: the rate-limit counters need a Redis shared by every replica',
    );
  }
  if (e.METRICS_PORT && e.METRICS_PORT === e.PORT && !e.LISTEN_PATH) {
    throw new ConfigError('Invalid configuration: METRICS_PORT: must differ from PORT');
  }
  const tls =
    e.TLS_CERT_FILE && e.TLS_KEY_FILE
      ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE, http2: e.HTTP2 }
      : undefined;
  return {
    http: {
      tls,
      customHeaders: e.CUSTOM_HEADERS,
      port: e.PORT,
      host: e.HOST,
      listenPath: e.LISTEN_PATH,
      backlog: e.LISTEN_BACKLOG,
      maxConnections: e.MAX_CONNECTIONS,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    },
    database: { url: e.DATABASE_URL, dataDir: e.DATA_DIR, poolMax: e.DATABASE_POOL_MAX },
    migrations: {
      mode: e.MIGRATIONS,
      lockWaitSeconds: e.MIGRATION_LOCK_WAIT_SECONDS,
      lockTimeoutMs: e.MIGRATION_LOCK_TIMEOUT_MS,
      statementTimeoutMs: e.MIGRATION_STATEMENT_TIMEOUT_MS,
    },
    redis: { url: e.REDIS_URL, cacheUrl: e.CACHE_REDIS_URL ?? e.REDIS_URL },
    cache: { ttlSeconds: e.CACHE_TTL_SECONDS },
    log: { level: e.LOG_LEVEL },
    shutdown: { timeoutMs: e.SHUTDOWN_TIMEOUT_MS, delayMs: e.SHUTDOWN_DELAY_MS },
    auth: {
      sessionTtlSeconds: e.SESSION_TTL_SECONDS,
      bcryptCost: e.BCRYPT_COST,
      loginRateLimitMax: e.LOGIN_RATE_LIMIT_MAX,
      cookieSecure: e.COOKIE_SECURE || tls !== undefined,
    },
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW_MS },
    trustProxy: e.TRUST_PROXY,
    cors: { origins: e.CORS_ORIGINS },
    metrics: { port: e.METRICS_PORT, gitCommit: e.GIT_COMMIT },
  };
}

/**
 * The environment as the server sees it at start: `.env` (if present) under the real
 * environment, and the first command-line argument as the port.
 */
export function readEnvironment(
  argv: readonly string[] = process.argv.slice(2),
): Record<string, string | undefined> {
  try {
    process.loadEnvFile('.env');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const env: Record<string, string | undefined> = { ...process.env };
  if (argv[0] !== undefined) env.PORT = argv[0];
  return env;
}
