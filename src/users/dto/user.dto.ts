/** A user as the API shows it: never the password hash. */
export class UserDto {
  userId: number;
  username: string;
  /** When the account was made (ISO 8601), null for rows that have none. */
  createdDate: string | null;
}

export function toUserDto(
  user: Pick<UserDto, 'userId' | 'username'> & { createdDate: Date | null },
): UserDto {
  return {
    userId: user.userId,
    username: user.username,
    createdDate: user.createdDate ? user.createdDate.toISOString() : null,
  };
}
