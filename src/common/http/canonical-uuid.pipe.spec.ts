import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import { CanonicalUuidPipe } from './canonical-uuid.pipe.js';

const param = { type: 'param', data: 'id' } as const;

describe('CanonicalUuidPipe', () => {
  it('returns any spelling of a UUID in lower case', async () => {
    const pipe = new CanonicalUuidPipe();
    await expect(pipe.transform('5B76E4C2-1F0A-4D3B-9C8E-7A6F5D4C3B2A', param)).resolves.toBe(
      '5b76e4c2-1f0a-4d3b-9c8e-7a6f5d4c3b2a',
    );
    await expect(pipe.transform('5b76e4c2-1f0a-4D3B-9c8e-7a6f5d4c3b2a', param)).resolves.toBe(
      '5b76e4c2-1f0a-4d3b-9c8e-7a6f5d4c3b2a',
    );
  });

  it.each([
    'not-a-uuid',
    '5b76e4c2-1f0a-4d3b-9c8e-7a6f5d4c3b2',
    '{5b76e4c2-1f0a-4d3b-9c8e-7a6f5d4c3b2a}',
  ])('refuses %s with 400 INVALID_ID', async (value) => {
    const refusal = new CanonicalUuidPipe().transform(value, param);
    await expect(refusal).rejects.toBeInstanceOf(BadRequestException);
    await expect(refusal).rejects.toMatchObject({ response: { code: 'INVALID_ID' } });
  });
});
