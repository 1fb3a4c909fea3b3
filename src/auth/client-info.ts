import type { FastifyRequest } from 'fastify';
import { clientIp } from '../common/http/client-ip.js';
import type { ClientInfo } from './sessions.service.js';

/** What a session records about the device that opened it. */
export function clientInfo(request: FastifyRequest): ClientInfo {
  return { userAgent: request.headers['user-agent'], ip: clientIp(request) };
}
