import { applyDecorators } from '@nestjs/common';
import { IsString, ValidateBy, type ValidationOptions } from 'class-validator';

export const PASSWORD_MIN_BYTES = 8;
export const PASSWORD_MAX_BYTES = 72;

/**
 * A string of 8 to 72 bytes in UTF-8. bcrypt ignores everything past byte 72, so a longer
 * password is refused rather than silently shortened.
 */
export function IsPassword(options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    IsString(options),
    ValidateBy(
      {
        name: 'isPassword',
        validator: {
          validate: (value: unknown) => {
            if (typeof value !== 'string') return false;
            const bytes = Buffer.byteLength(value, 'utf8');
            return bytes >= PASSWORD_MIN_BYTES && bytes <= PASSWORD_MAX_BYTES;
          },
          defaultMessage: (args) =>
            `${args?.property ?? 'password'} must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes long in UTF-8`,
        },
      },
      options,
    ),
  );
}
