import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino, stdTimeFunctions } from 'pino';
import { isoTimeOncePerMillisecond, loggerOptions } from './logging.module.js';
import { completionFields, completionLevel, completionLineWriter } from './request-log.js';

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
});

describe('completionLineWriter', () => {
  const line = {
    reqId: 'r-1',
    method: 'GET',
    url: '/documents/x?q="quoted"\\ünï',
    remoteAddress: '::1',
    route: '/documents/:id',
    statusCode: 418,
    responseTime: 1.5,
  };

  it('writes the line pino would write for the same fields, level, time and bindings', () => {
    const { lines, stream } = capture();
    const options = { ...loggerOptions('debug'), timestamp: () => ',"time":"then"' };
    const root = pino(options, stream);
    completionLineWriter(root)('warn', 'request completed', line);
    root.warn(completionFields(line), 'request completed');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0])).toEqual(JSON.parse(lines[1]));
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'warn',
      time: 'then',
      res: { statusCode: 418 },
    });
  });

  it('leaves out what an aborted request does not have, and writes nothing below the level', () => {
    const { lines, stream } = capture();
    const root = pino(loggerOptions('info'), stream);
    const aborted = { ...line, statusCode: undefined, responseTime: undefined };
    completionLineWriter(root)('info', 'request aborted by the client', aborted);
    completionLineWriter(root)('debug', 'request completed', line);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).not.toHaveProperty('res');
    expect(JSON.parse(lines[0])).not.toHaveProperty('responseTime');
  });
});

describe('completionLevel', () => {
  it('logs successful probes and scrapes at debug, and everything else as usual', () => {
    expect(completionLevel('/health/ready', 200)).toBe('debug');
    expect(completionLevel('/metrics', 200)).toBe('debug');
    expect(completionLevel('/health/ready', 503)).toBe('error');
    expect(completionLevel('/metrics-and-more', 200)).toBe('info');
    expect(completionLevel('/nope', 404)).toBe('warn');
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
