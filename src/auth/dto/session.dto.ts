/** One of the caller's sessions. */
export class SessionDto {
  /** Session id (not the secret token). */
  id: string;
  createdAt: string;
  /** When the session was last used, to the minute. */
  lastSeenAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  /** True for the session this request was made with. */
  current: boolean;
}

/** A page of sessions. */
export class SessionPageDto {
  items: SessionDto[];
  nextCursor: string | null;
}
