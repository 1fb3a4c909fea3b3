/** Who is calling, as the session guard found it. */
export interface AuthContext {
  userId: number;
  username: string;
  sessionId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the session guard when the request carries a valid session cookie. */
    auth?: AuthContext;
  }
}
