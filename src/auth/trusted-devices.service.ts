import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { ThrottleExemptions } from '../common/throttling/throttle-exemptions.js';
import { USERNAME_BUDGET, usernameTracker } from '../common/throttling/throttlers.js';
import { DEVICE_COOKIE, SESSION_TOKEN_FORMAT } from './session-cookie.js';
import { newToken, tokenHash } from './token.js';

/** How long a device stays known after the login that made it so. */
export const DEVICE_TTL_SECONDS = 90 * 24 * 60 * 60;
/** Devices remembered per account at most; the oldest are forgotten first. */
const DEVICES_PER_USER = 20;

/**
 * Devices that signed in to an account (OWASP's "device cookies"): a successful login gives
 * the client a random token, kept here as its SHA-256 with the user and an expiry. When a
 * third party has spent an account's public login budget, a device that presents such a token
 * for that account is let through, held only by its own per-client budget.
 */
@Injectable()
export class TrustedDevices implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly exemptions: ThrottleExemptions,
  ) {}

  onModuleInit(): void {
    this.exemptions.register(USERNAME_BUDGET, (request) => this.vouchesFor(request));
  }

  /** Whether the request's device cookie was given to the account its body names. */
  async vouchesFor(request: FastifyRequest): Promise<boolean> {
    const token = request.cookies?.[DEVICE_COOKIE];
    const username = usernameTracker(request);
    if (!token || !SESSION_TOKEN_FORMAT.test(token) || !username) return false;
    const rows = await this.db.query<unknown[]>(
      `SELECT 1 FROM trusted_devices d JOIN users u ON u.user_id = d.user_id
        WHERE d.token_hash = $1 AND d.expires_at > now() AND lower(u.username) = $2`,
      [tokenHash(token), username],
    );
    return rows.length > 0;
  }

  /**
   * After a successful login: the token of a new device cookie, or undefined when the client
   * already holds a live one for this user. Expired and surplus devices of the user go.
   */
  async remember(userId: number, presented: string | undefined): Promise<string | undefined> {
    if (presented && SESSION_TOKEN_FORMAT.test(presented)) {
      const known = await this.db.query<unknown[]>(
        'SELECT 1 FROM trusted_devices WHERE token_hash = $1 AND user_id = $2 AND expires_at > now()',
        [tokenHash(presented), userId],
      );
      if (known.length > 0) return undefined;
    }
    const token = newToken();
    await this.db.query(
      `INSERT INTO trusted_devices (token_hash, user_id, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3))`,
      [tokenHash(token), userId, DEVICE_TTL_SECONDS],
    );
    await this.db.query(
      `DELETE FROM trusted_devices WHERE user_id = $1 AND token_hash NOT IN (
         SELECT token_hash FROM trusted_devices WHERE user_id = $1 AND expires_at > now()
          ORDER BY created_at DESC LIMIT $2)`,
      [userId, DEVICES_PER_USER],
    );
    return token;
  }
}
