import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino, stdTimeFunctions } from 'pino';
import { completionLogger, isoTimeOncePerMillisecond, loggerOptions } from './logging.module.js';
import { completionLevel } from './request-log.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('loggerOptions', () => {
  const { level, redact, formatters, timestamp } = loggerOptions('info');

  it('redacts passwords at any depth the app logs them, and credentials headers', () => {
    const { lines, stream } = capture();
    const logger = pino({ level, redact, formatters, timestamp }, stream);
    logger.info({ password: 'p1-secret' }, 'top level');
    logger.info({ body: { password: 'p2-secret', newPassword: 'p3-secret' } }, 'nested');
    logger.info({ user: { credentials: { password: 'p4-secret' } } }, 'deeper');
    logger.info({ req: { headers: { cookie: 'sid=c-secret', authorization: 'Bearer a-secret' } } });

    const output = lines.join('');
    expect(output).not.toMatch(/secret/);
    expect(output.match(/\[Redacted\]/g)).toHaveLength(6);
  });

  it('writes the level as a word and the time as ISO 8601', () => {
    const { lines, stream } = capture();
    pino({ level, formatters, timestamp }, stream).warn('hello');
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'warn',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('writes completion lines as they are, without redaction or request serializers', () => {
    const { lines, stream } = capture();
    const root = pino({ level, redact, formatters, timestamp }, stream);
    const req = { id: 'r1', method: 'GET', url: '/coffee', remoteAddress: '127.0.0.1' };
    completionLogger(root).info({ req, res: { statusCode: 418 } }, 'request completed');
    root.info({ password: 'still-redacted' });
    expect(JSON.parse(lines[0])).toMatchObject({ req, res: { statusCode: 418 } });
    expect(lines[1]).not.toMatch(/still-redacted/);
  });
});

describe('completionLevel', () => {
  it('logs successful probes and scrapes at debug, and everything else as usual', () => {
    expect(completionLevel('/health/ready', 200)).toBe('debug');
    expect(completionLevel('/health/dependencies', 200)).toBe('debug');
    expect(completionLevel('/metrics', 200)).toBe('debug');
    expect(completionLevel('/health/live', 500)).toBe('error');
    expect(completionLevel('/health/ready', 500)).toBe('error');
    expect(completionLevel('/metrics-and-more', 200)).toBe('info');
    expect(completionLevel('/nope', 404)).toBe('warn');
  });

  it('logs the 503s of readiness (a drain) and of dependencies at info, not as errors', () => {
    expect(completionLevel('/health/ready', 503)).toBe('info');
    expect(completionLevel('/health/dependencies', 503)).toBe('info');
    expect(completionLevel('/documents', 503)).toBe('error');
  });
});

describe('isoTimeOncePerMillisecond', () => {
  it('gives what pino’s isoTime gives, millisecond after millisecond', () => {
    const time = isoTimeOncePerMillisecond();
    const realNow = Date.now;
    try {
      for (const now of [1_795_000_000_000, 1_795_000_000_000, 1_795_000_000_001, 0]) {
        Date.now = () => now;
        expect(time()).toBe(stdTimeFunctions.isoTime());
      }
    } finally {
      Date.now = realNow;
    }
  });
});
