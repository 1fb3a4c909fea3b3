/** The cookies one client holds for one server: what Node's fetch lacks and a browser has. */
export interface CookieJar {
  /** A fetch that sends the jar's cookies and keeps the ones the server sets. */
  fetch: (input: Request) => Promise<Response>;
  /** The value of a cookie the jar holds. */
  get(name: string): string | undefined;
  clear(): void;
}

function expired(attributes: string[]): boolean {
  for (const attribute of attributes) {
    const [key, value = ''] = attribute.split('=').map((part) => part.trim());
    if (key.toLowerCase() === 'max-age' && Number(value) <= 0) return true;
    if (key.toLowerCase() === 'expires' && Date.parse(value) <= Date.now()) return true;
  }
  return false;
}

/** A cookie jar around `fetch` (the global one by default), for Node and other non-browsers. */
export function cookieJar(base: typeof fetch = globalThis.fetch): CookieJar {
  const cookies = new Map<string, string>();
  return {
    async fetch(input: Request): Promise<Response> {
      const request = new Request(input);
      if (cookies.size > 0) {
        const sent = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
        request.headers.set('cookie', sent);
      }
      const response = await base(request);
      for (const header of response.headers.getSetCookie()) {
        const [pair, ...attributes] = header.split(';');
        const at = pair.indexOf('=');
        if (at <= 0) continue;
        const name = pair.slice(0, at).trim();
        if (expired(attributes)) cookies.delete(name);
        else cookies.set(name, pair.slice(at + 1).trim());
      }
      return response;
    },
    get: (name) => cookies.get(name),
    clear: () => cookies.clear(),
  };
}
