import { IsString, MaxLength } from 'class-validator';

/** Body of `DELETE /users/me`: the password, to confirm. */
export class DeleteAccountDto {
  /** @example "correct horse battery" */
  @IsString()
  @MaxLength(1024)
  password: string;
}
