import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AppConfig } from '../common/config/app-config.js';
import {
  decodeCreatedAtCursor,
  encodeCreatedAtCursor,
  queryAfterCursor,
  type Page,
} from '../common/pagination/page.js';
import type { AuthContext } from './auth-context.js';
import type { SessionDto } from './dto/session.dto.js';
import { SESSION_TOKEN_FORMAT } from './session-cookie.js';
import { newToken, tokenHash } from './token.js';

/** `last_seen_at` is written at most this often per session, not on every request. */
const LAST_SEEN_RESOLUTION_MS = 60_000;
const PURGE_INTERVAL_MS = 10 * 60_000;

export interface ClientInfo {
  userAgent?: string;
  ip?: string;
}

interface SessionRow {
  session_id: string;
  created_at: Date;
  created_at_key: string;
  last_seen_at: Date;
  expires_at: Date;
  user_agent: string | null;
  ip: string | null;
}

/**
 * Sessions in PostgreSQL. The cookie's token is 256 random bits; the table keeps its
 * SHA-256 only. Every check reads the table, so revocation takes effect on the very next
 * request on every replica.
 */
@Injectable()
export class SessionsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SessionsService.name);
  private readonly ttlSeconds: number;
  private purgeTimer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    config: ConfigService<AppConfig, true>,
  ) {
    this.ttlSeconds = config.getOrThrow('auth', { infer: true }).sessionTtlSeconds;
  }

  get lifetimeSeconds(): number {
    return this.ttlSeconds;
  }

  onApplicationBootstrap(): void {
    this.purgeTimer = setInterval(() => void this.purgeExpired(), PURGE_INTERVAL_MS).unref();
    void this.purgeExpired();
  }

  onApplicationShutdown(): void {
    clearInterval(this.purgeTimer);
  }

  /**
   * Opens a new session (never reuses one) and returns the token for the cookie, or null when
   * `verifiedHash`, the password hash the caller checked the password against, is no longer
   * the user's (the password changed, or the user went, meanwhile). The check holds the
   * user's row locked until the session is committed, and a password change takes the same
   * lock to replace the hash and end the other sessions: a session made with an old password
   * is either refused here or ended by the change.
   */
  async create(
    userId: number,
    client: ClientInfo,
    verifiedHash: string,
  ): Promise<{ token: string; sessionId: string } | null> {
    const token = newToken();
    const sessionId = await this.db.transaction(async (tx) => {
      const [user] = await tx.query<unknown[]>(
        'SELECT 1 FROM users WHERE user_id = $1 AND password = $2 FOR NO KEY UPDATE',
        [userId, verifiedHash],
      );
      if (!user) return null;
      const [row] = await tx.query<{ session_id: string }[]>(
        `INSERT INTO sessions (user_id, token_hash, expires_at, user_agent, ip)
         VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)
         RETURNING session_id`,
        [
          userId,
          tokenHash(token),
          this.ttlSeconds,
          client.userAgent?.slice(0, 512) ?? null,
          client.ip ?? null,
        ],
      );
      await tx.query('UPDATE users SET session_id = $1 WHERE user_id = $2', [
        row.session_id,
        userId,
      ]);
      return row.session_id;
    });
    return sessionId === null ? null : { token, sessionId };
  }

  /** The caller behind a token, or null for an unknown, malformed or expired one. */
  async authenticate(token: string): Promise<AuthContext | null> {
    if (!SESSION_TOKEN_FORMAT.test(token)) return null;
    const [row] = await this.db.query<
      { session_id: string; user_id: number; username: string; last_seen_at: Date }[]
    >(
      `SELECT s.session_id, s.user_id, u.username, s.last_seen_at
       FROM sessions s JOIN users u ON u.user_id = s.user_id
       WHERE s.token_hash = $1 AND s.expires_at > now()`,
      [tokenHash(token)],
    );
    if (!row) return null;
    if (Date.now() - row.last_seen_at.getTime() > LAST_SEEN_RESOLUTION_MS) {
      this.db
        .query('UPDATE sessions SET last_seen_at = now() WHERE session_id = $1', [row.session_id])
        .catch((error: Error) => this.logger.warn(`Could not record last use: ${error.message}`));
    }
    return { sessionId: row.session_id, userId: row.user_id, username: row.username };
  }

  /** The user's live sessions, newest first. */
  async list(
    auth: AuthContext,
    { limit, cursor }: { limit: number; cursor?: string },
  ): Promise<Page<SessionDto>> {
    const after = cursor ? decodeCreatedAtCursor(cursor) : null;
    const rows = await queryAfterCursor(
      this.db.query<SessionRow[]>(
        `SELECT session_id, created_at, created_at::text AS created_at_key, last_seen_at,
                expires_at, user_agent, ip
         FROM sessions
         WHERE user_id = $1 AND expires_at > now()
           AND ($2::timestamptz IS NULL OR (created_at, session_id) < ($2::timestamptz, $3::uuid))
         ORDER BY created_at DESC, session_id DESC
         LIMIT $4`,
        [auth.userId, after?.createdAt ?? null, after?.id ?? null, limit + 1],
      ),
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => ({
        id: row.session_id,
        createdAt: row.created_at.toISOString(),
        lastSeenAt: row.last_seen_at.toISOString(),
        expiresAt: row.expires_at.toISOString(),
        userAgent: row.user_agent,
        ip: row.ip,
        current: row.session_id === auth.sessionId,
      })),
      nextCursor:
        rows.length > limit && last
          ? encodeCreatedAtCursor({ createdAt: last.created_at_key, id: last.session_id })
          : null,
    };
  }

  /** Ends one session; its cookie stops working at once. */
  async revoke(sessionId: string): Promise<void> {
    await this.db.query('DELETE FROM sessions WHERE session_id = $1', [sessionId]);
    await this.db.query('UPDATE users SET session_id = NULL WHERE session_id = $1', [sessionId]);
  }

  /**
   * Ends every session of a user, but `keep` when given; inside `tx` when given (a password
   * change ends them in the transaction that replaces the hash).
   */
  async revokeAll(
    userId: number,
    keep?: string,
    tx: EntityManager = this.db.manager,
  ): Promise<void> {
    await tx.query(
      'DELETE FROM sessions WHERE user_id = $1 AND ($2::uuid IS NULL OR session_id <> $2::uuid)',
      [userId, keep ?? null],
    );
    await tx.query('UPDATE users SET session_id = $2 WHERE user_id = $1', [userId, keep ?? null]);
  }

  /** Deletes expired sessions; they already fail authentication, this only frees the rows. */
  async purgeExpired(): Promise<number> {
    try {
      const [, count] = await this.db.query<[unknown, number]>(
        'DELETE FROM sessions WHERE expires_at <= now()',
      );
      if (count > 0) this.logger.log(`Purged ${count} expired sessions`);
      return count;
    } catch (error) {
      this.logger.warn(`Could not purge expired sessions: ${(error as Error).message}`);
      return 0;
    }
  }
}
