/** One of the caller's sessions. */
export class SessionDto {
  /** Session id (not the secret token). @example "3f2b8c1d-6a4e-4f0b-9c7d-2e1a5b8f9c0d" */
  id: string;
  /** @example "2026-11-25T09:30:00.000Z" */
  createdAt: string;
  /** When the session was last used, to the minute. @example "2026-11-25T10:02:00.000Z" */
  lastSeenAt: string;
  /** @example "2026-12-02T09:30:00.000Z" */
  expiresAt: string;
  /** @example "Mozilla/5.0 (X11; Linux x86_64)" */
  userAgent: string | null;
  /** @example "203.0.113.7" */
  ip: string | null;
  /** True for the session this request was made with. */
  current: boolean;
}

/** A page of sessions. */
export class SessionPageDto {
  items: SessionDto[];
  nextCursor: string | null;
}
