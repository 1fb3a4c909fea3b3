import { describe, expect, it } from '@jest/globals';
import type { FastifyRequest } from 'fastify';
import { clientIp, proxyTrust } from './client-ip.js';

/** A request as Fastify presents it: `ips` (peer first) only when a proxy is trusted. */
function request(peer: string | undefined, ips?: (string | undefined)[]): FastifyRequest {
  return { ips, raw: { socket: { remoteAddress: peer } } } as unknown as FastifyRequest;
}

describe('proxyTrust', () => {
  it('trusts nobody for false, everybody for true, the nearest hops for a count', () => {
    expect(proxyTrust(false)).toBe(false);
    const all = proxyTrust(true) as Exclude<ReturnType<typeof proxyTrust>, false>;
    expect(all('203.0.113.1', 5)).toBe(true);
    const two = proxyTrust(2) as Exclude<ReturnType<typeof proxyTrust>, false>;
    expect([two('10.0.0.1', 0), two('10.0.0.2', 1), two('10.0.0.3', 2)]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('trusts listed addresses and networks, and a Unix socket peer', () => {
    const listed = proxyTrust('10.0.0.0/8, 192.0.2.1') as Exclude<
      ReturnType<typeof proxyTrust>,
      false
    >;
    expect(listed('10.1.2.3', 0)).toBe(true);
    expect(listed('192.0.2.1', 1)).toBe(true);
    expect(listed('198.51.100.1', 0)).toBe(false);
    expect(listed(undefined, 0)).toBe(true);
    expect(listed(undefined, 1)).toBe(false);
  });
});

describe('clientIp', () => {
  it('is the peer when no proxy is trusted', () => {
    expect(clientIp(request('127.0.0.1'))).toBe('127.0.0.1');
  });

  it('is the farthest address the trusted chain vouches for', () => {
    expect(clientIp(request('10.0.0.1', ['10.0.0.1', '10.0.0.2', '203.0.113.9']))).toBe(
      '203.0.113.9',
    );
  });

  it.each([
    ['markup', '<script>'],
    ['an overlong value', 'x'.repeat(70)],
    ['an address with a zone', 'fe80::1%eth0'],
    ['an address with trailing text', '198.51.100.7 evil'],
  ])('stops at %s and keeps the nearest valid address', (_case, forged) => {
    expect(clientIp(request('10.0.0.1', ['10.0.0.1', forged]))).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', ['10.0.0.1', '203.0.113.9', forged]))).toBe('203.0.113.9');
  });

  it('takes the forwarded address on a Unix socket, and has none without one', () => {
    expect(clientIp(request(undefined, [undefined, '2001:db8::1']))).toBe('2001:db8::1');
    expect(clientIp(request(undefined, [undefined, 'garbage']))).toBeUndefined();
  });
});
