import { Injectable } from '@nestjs/common';
import FindMyWay, { type HTTPMethod } from 'find-my-way';

/**
 * Longest path parameter the routers match: above Node's 16 KiB limit on the request head, so
 * an overlong id reaches its pipe and is a malformed one (400), not a 414 or a 404.
 */
export const MAX_PARAM_LENGTH = 65_536;

/**
 * Every route the server serves, in a router of its own, to tell which methods a path
 * answers: the `Allow` header of a 405 comes from here, never from a hand-kept list.
 */
@Injectable()
export class RouteMethods {
  private readonly router = FindMyWay({ maxParamLength: MAX_PARAM_LENGTH });
  private readonly methods = new Set<HTTPMethod>();

  add(method: string | string[], url: string): void {
    for (const one of ([] as string[]).concat(method)) {
      const verb = one.toUpperCase() as HTTPMethod;
      if (this.router.find(verb, url)) continue;
      this.router.on(verb, url, () => undefined);
      this.methods.add(verb);
    }
  }

  /** The methods served at `path` (a concrete path, without its query), sorted. */
  allowed(path: string): string[] {
    return [...this.methods].filter((method) => this.router.find(method, path) !== null).sort();
  }
}
