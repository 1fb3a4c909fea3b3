import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from './sessions.service.js';

/** What a session records about the device that opened it. */
export function clientInfo(request: FastifyRequest): ClientInfo {
  return { userAgent: request.headers['user-agent'], ip: request.ip };
}
