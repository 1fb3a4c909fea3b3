import { IsString, MaxLength } from 'class-validator';
import { IsPassword } from '../../auth/dto/is-password.js';

/** Body of `PUT /users/me/password`. */
export class ChangePasswordDto {
  /** @example "correct horse battery" */
  @IsString()
  @MaxLength(1024)
  currentPassword: string;

  /** 8 to 72 bytes in UTF-8. @example "staple battery horse" */
  @IsPassword()
  newPassword: string;
}
