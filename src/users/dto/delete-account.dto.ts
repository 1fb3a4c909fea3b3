import { IsString, MaxLength } from 'class-validator';

/** Body of `DELETE /users/me`: the password, to confirm. */
export class DeleteAccountDto {
  @IsString()
  @MaxLength(1024)
  password: string;
}
