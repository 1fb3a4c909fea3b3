import { BadRequestException, ParseUUIDPipe, type ArgumentMetadata } from '@nestjs/common';

/**
 * `ParseUUIDPipe` that also returns the id in lower case, the canonical form of RFC 9562, and
 * answers a malformed one with 400 `INVALID_ID`. UUIDs are case-insensitive on input; spelling
 * them one way from the edge on means that cache keys, SQL, ETag, `Location` and logs never
 * disagree about which document is meant.
 */
export class CanonicalUuidPipe extends ParseUUIDPipe {
  constructor() {
    super({
      exceptionFactory: () =>
        new BadRequestException({ code: 'INVALID_ID', message: 'id must be a UUID' }),
    });
  }

  override async transform(value: string, metadata: ArgumentMetadata): Promise<string> {
    return ((await super.transform(value, metadata)) as string).toLowerCase();
  }
}
