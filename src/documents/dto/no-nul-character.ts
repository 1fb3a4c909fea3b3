import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * A string without U+0000: PostgreSQL text cannot hold it, so it is refused here (400) rather
 * than by the database (a 500).
 */
export function NoNulCharacter(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'noNulCharacter',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !value.includes('\u0000'),
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must not contain the character U+0000`,
      },
    },
    options,
  );
}
