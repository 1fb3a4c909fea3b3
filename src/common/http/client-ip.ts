import proxyAddr from '@fastify/proxy-addr';
import type { FastifyRequest } from 'fastify';
import { isIP } from 'node:net';

/** Whether the address at `hop` (0: the peer) may name the next client in X-Forwarded-For. */
export type ProxyTrust = (address: string | undefined, hop: number) => boolean;

/**
 * `TRUST_PROXY` as the function Fastify takes for `trustProxy`. A hop count trusts the nearest
 * N hops (Fastify alone would trust none). On a Unix socket the peer has no address: it is the
 * local proxy the socket's file permissions let in, so it counts as trusted in every form.
 */
export function proxyTrust(setting: boolean | number | string): ProxyTrust | false {
  if (setting === false) return false;
  if (setting === true) return () => true;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  const trusted = proxyAddr.compile(setting.split(',').map((entry) => entry.trim()));
  return (address, hop) => (address === undefined ? hop === 0 : trusted(address, hop));
}

/**
 * The client's address: the peer's, or with `TRUST_PROXY` the farthest one the chain of
 * trusted proxies vouches for. Forwarded entries are taken only while they are IP addresses:
 * at the first that is not (markup, an overlong value), the nearest valid address stands.
 * Undefined only on a Unix socket whose proxy sent no valid X-Forwarded-For.
 */
export function clientIp(request: FastifyRequest): string | undefined {
  // Fastify gives `ips` (peer first, cut at the first untrusted hop) only with trustProxy.
  const chain = (request.ips as (string | undefined)[] | undefined) ?? [
    request.raw.socket?.remoteAddress,
  ];
  let address = chain[0];
  for (let hop = 1; hop < chain.length; hop++) {
    const forwarded = chain[hop];
    if (forwarded === undefined || forwarded.includes('%') || isIP(forwarded) === 0) break;
    address = forwarded;
  }
  return address;
}
