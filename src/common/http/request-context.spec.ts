import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { requestIdFor } from './request-context.js';

const withHeader = (value?: string | string[]) =>
  ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;

describe('requestIdFor', () => {
  it('keeps a short, plain id from the client', () => {
    expect(requestIdFor(withHeader('abc-123_x.y:z'))).toBe('abc-123_x.y:z');
  });

  it.each([
    ['missing', undefined],
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'a b'],
    ['with control characters', 'a\u0007b'],
    ['repeated', ['a', 'b']],
  ])('makes a new UUID when the client id is %s', (_case, value) => {
    expect(requestIdFor(withHeader(value))).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
