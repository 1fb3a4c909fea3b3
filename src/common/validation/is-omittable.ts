import { ValidateIf, type ValidationOptions } from 'class-validator';

/**
 * The property may be left out; when it is given, every other rule applies, to `null` too.
 * class-validator's `@IsOptional()` skips the rules for `null` as well, which let
 * `{"visibility": null}` through to the database (a NOT NULL violation, a 500): a body field
 * is either absent or valid.
 */
export function IsOmittable(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object, value: unknown) => value !== undefined, options);
}
