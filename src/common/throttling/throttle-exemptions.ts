import { Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Whether a request that a budget would refuse may pass all the same. */
export type Exemption = (request: FastifyRequest) => Promise<boolean>;

/**
 * Exceptions to a named budget, registered by the features that can vouch for a client (a
 * device that signed in to the account before is not held by that account's lock), so that
 * the throttling code depends on no feature module. Asked only when a budget is spent.
 */
@Injectable()
export class ThrottleExemptions {
  private readonly logger = new Logger(ThrottleExemptions.name);
  private readonly exemptions = new Map<string, Exemption>();

  /** Lets requests that `exemption` vouches for past the throttler `name`. */
  register(name: string, exemption: Exemption): void {
    this.exemptions.set(name, exemption);
  }

  /** Whether the request may pass the spent budget `name`; no, if the check itself fails. */
  async allows(name: string, request: FastifyRequest): Promise<boolean> {
    const exemption = this.exemptions.get(name);
    if (!exemption) return false;
    return exemption(request).catch((error: Error) => {
      this.logger.warn(`Exemption from the ${name} budget not checked: ${error.message}`);
      return false;
    });
  }
}
