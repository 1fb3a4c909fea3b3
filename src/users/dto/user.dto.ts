/** A user as the API shows it: never the password hash. */
export class UserDto {
  /** @example 42 */
  userId: number;
  /** @example "ada" */
  username: string;
  /**
   * When the account was made (ISO 8601), null for rows that have none.
   * @example "2026-11-25T09:30:00.000Z"
   */
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
