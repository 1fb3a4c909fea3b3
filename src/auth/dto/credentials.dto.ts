import { IsString, Matches } from 'class-validator';
import { IsPassword } from './is-password.js';

/** Body of `POST /auth/signup` and `POST /auth/login`. */
export class CredentialsDto {
  /** 3 to 50 characters: letters, digits, `_`, `.` and `-`. @example "ada" */
  @IsString()
  @Matches(/^[A-Za-z0-9_.-]{3,50}$/, {
    message: 'username must be 3 to 50 characters of letters, digits, _ . or -',
  })
  username: string;

  /**
   * 8 to 72 bytes in UTF-8 (bcrypt reads no further, so longer ones are refused).
   * @example "correct horse battery"
   */
  @IsPassword()
  password: string;
}
