import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { pinoHttpOptions } from './logging.module.js';

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

describe('pinoHttpOptions', () => {
  const { level, redact, formatters, timestamp } = pinoHttpOptions('info');

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

  it('logs successful probes and scrapes at debug, and everything else as usual', () => {
    const { customLogLevel } = pinoHttpOptions('info');
    const levelOf = (url: string, statusCode: number) =>
      customLogLevel!({ url } as IncomingMessage, { statusCode } as ServerResponse);
    expect(levelOf('/health/ready', 200)).toBe('debug');
    expect(levelOf('/metrics', 200)).toBe('debug');
    expect(levelOf('/health/ready', 503)).toBe('error');
    expect(levelOf('/metrics-and-more', 200)).toBe('info');
    expect(levelOf('/nope', 404)).toBe('warn');
  });
});
