import { Controller, Get, Query } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Public } from '../../src/auth/decorators/auth.decorators.js';

/** A route that takes as long as the test asks, to have requests in flight. */
@Public()
@Controller('test')
export class SlowController {
  @Get('slow')
  async slow(@Query('ms') ms: string): Promise<{ sleptMs: number }> {
    await sleep(Number(ms), undefined, { ref: false });
    return { sleptMs: Number(ms) };
  }
}
