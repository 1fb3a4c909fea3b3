import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.http).toEqual({
      tls: undefined,
      customHeaders: {},
      port: 7878,
      host: '0.0.0.0',
      listenPath: undefined,
      backlog: 511,
      maxConnections: 0,
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
    });
    expect(config.database).toEqual({ url: undefined, dataDir: '.data', poolMax: 10 });
    expect(config.redis).toEqual({ url: undefined, cacheUrl: undefined });
    expect(config.cache).toEqual({ ttlSeconds: 600 });
    expect(config.log).toEqual({ level: 'info' });
    expect(config.shutdown).toEqual({ timeoutMs: 10_000, delayMs: 0 });
  });

  it('reads and converts the variables it knows', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://app:pw@db:5432/app',
      REDIS_URL: 'redis://cache:6379',
      LOG_LEVEL: 'silent',
      SHUTDOWN_DELAY_MS: '5000',
      UNRELATED: 'ignored',
    });
    expect(config.http.port).toBe(8080);
    expect(config.database.url).toBe('postgres://app:pw@db:5432/app');
    expect(config.redis.url).toBe('redis://cache:6379');
    expect(config.log.level).toBe('silent');
    expect(config.shutdown.delayMs).toBe(5000);
  });

  it('reads CUSTOM_HEADERS and TRUST_PROXY in each of their forms', () => {
    expect(loadConfig({ CUSTOM_HEADERS: '{"X-Served-By":"edge-1"}' }).http.customHeaders).toEqual({
      'X-Served-By': 'edge-1',
    });
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toBe(
      '10.0.0.0/8,127.0.0.1',
    );
  });

  it('takes TLS files in pairs, HTTP/2 only with TLS, and marks cookies Secure under TLS', () => {
    expect(() => loadConfig({ TLS_CERT_FILE: 'cert.pem' })).toThrow(
      /TLS_CERT_FILE and TLS_KEY_FILE/,
    );
    expect(() => loadConfig({ HTTP2: 'true' })).toThrow(/HTTP2/);
    const config = loadConfig({ TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', HTTP2: 'true' });
    expect(config.http.tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', http2: true });
    expect(config.auth.cookieSecure).toBe(true);
    expect(loadConfig({}).auth.cookieSecure).toBe(false);
  });

  it('refuses LISTEN_PATH without a TRUST_PROXY, naming both', () => {
    const socket = { LISTEN_PATH: '/run/api.sock' };
    for (const trust of [{}, { TRUST_PROXY: 'false' }, { TRUST_PROXY: '0' }]) {
      expect(() => loadConfig({ ...socket, ...trust })).toThrow(
        /^Invalid configuration: LISTEN_PATH needs TRUST_PROXY/,
      );
    }
    for (const trust of ['true', '1', '10.0.0.0/8']) {
      expect(loadConfig({ ...socket, TRUST_PROXY: trust }).http.listenPath).toBe('/run/api.sock');
    }
  });

  it('migrates at start by default, within bounds, and reads the migration settings', () => {
    expect(loadConfig({}).migrations).toEqual({
      mode: 'auto',
      lockWaitSeconds: 300,
      lockTimeoutMs: 10_000,
      statementTimeoutMs: 900_000,
    });
    expect(
      loadConfig({
        MIGRATIONS: 'off',
        MIGRATION_LOCK_WAIT_SECONDS: '0',
        MIGRATION_LOCK_TIMEOUT_MS: '2000',
        MIGRATION_STATEMENT_TIMEOUT_MS: '0',
      }).migrations,
    ).toEqual({ mode: 'off', lockWaitSeconds: 0, lockTimeoutMs: 2000, statementTimeoutMs: 0 });
    expect(() => loadConfig({ MIGRATIONS: 'manual' })).toThrow(
      'Invalid configuration: MIGRATIONS: expected auto or off',
    );
  });

  it('puts the cache on CACHE_REDIS_URL when given, else on REDIS_URL', () => {
    const shared = { REDIS_URL: 'redis://counters:6379' };
    expect(loadConfig(shared).redis).toEqual({
      url: 'redis://counters:6379',
      cacheUrl: 'redis://counters:6379',
    });
    expect(loadConfig({ ...shared, CACHE_REDIS_URL: 'rediss://cache:6380/2' }).redis).toEqual({
      url: 'redis://counters:6379',
      cacheUrl: 'rediss://cache:6380/2',
    });
    expect(loadConfig({ ...shared, CACHE_REDIS_URL: '' }).redis.cacheUrl).toBe(
      'redis://counters:6379',
    );
  });

  it('refuses CACHE_REDIS_URL without REDIS_URL, naming both and echoing neither', () => {
    const env = { CACHE_REDIS_URL: 'redis://:topsecret@cache:6379' };
    expect(() => loadConfig(env)).toThrow(
      /^Invalid configuration: CACHE_REDIS_URL needs REDIS_URL: [^\n]*$/,
    );
    expect(() => loadConfig(env)).not.toThrow(/topsecret/);
    expect(() => loadConfig({ ...env, REDIS_URL: '' })).toThrow(/CACHE_REDIS_URL needs REDIS_URL/);
  });

  it('serves metrics on METRICS_PORT when set, and names the build with GIT_COMMIT', () => {
    expect(loadConfig({}).metrics).toEqual({ port: undefined, gitCommit: 'unknown' });
    expect(loadConfig({ METRICS_PORT: '9464', GIT_COMMIT: '1a2b3c4' }).metrics).toEqual({
      port: 9464,
      gitCommit: '1a2b3c4',
    });
    expect(() => loadConfig({ METRICS_PORT: '7878' })).toThrow(
      /^Invalid configuration: METRICS_PORT: must differ from PORT$/,
    );
    expect(() => loadConfig({ PORT: '8080', METRICS_PORT: '8080' })).toThrow(/METRICS_PORT/);
    expect(loadConfig({ PORT: '8080', METRICS_PORT: '7878' }).metrics.port).toBe(7878);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).database.url).toBeUndefined();
    expect(loadConfig({ PORT: '' }).http.port).toBe(7878);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['REDIS_URL', 'http://cache'],
    ['CACHE_REDIS_URL', 'http://cache'],
    ['CACHE_REDIS_URL', 'not a url'],
    ['BODY_LIMIT_BYTES', '-1'],
    ['CUSTOM_HEADERS', '{"x-a": 1}'],
    ['CUSTOM_HEADERS', '{"bad name": "x"}'],
    ['CUSTOM_HEADERS', '["x"]'],
    ['CUSTOM_HEADERS', 'not json'],
    ['TRUST_PROXY', 'sometimes'],
    ['METRICS_PORT', '70000'],
    ['METRICS_PORT', 'ninety'],
    ['GIT_COMMIT', 'abc def'],
    ['MIGRATIONS', 'manual'],
    ['MIGRATION_LOCK_WAIT_SECONDS', '-1'],
    ['MIGRATION_LOCK_TIMEOUT_MS', '2s'],
    ['MIGRATION_STATEMENT_TIMEOUT_MS', '1.5'],
  ])('rejects %s=%s with a message that names the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(
      new RegExp(`^Invalid configuration: ${name}:`),
    );
  });

  it('does not repeat a rejected URL, which may contain a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:topsecret@h/db' })).toThrow(
      /^Invalid configuration: DATABASE_URL: expected a postgres:\/\/[^\n]*$/,
    );
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:topsecret@h/db' })).not.toThrow(/topsecret/);
    const cache = { REDIS_URL: 'redis://r:6379', CACHE_REDIS_URL: 'http://u:topsecret@h' };
    expect(() => loadConfig(cache)).toThrow(
      /^Invalid configuration: CACHE_REDIS_URL: expected a redis:\/\/[^\n]*$/,
    );
    expect(() => loadConfig(cache)).not.toThrow(/topsecret/);
  });
});
