import { PickType } from '@nestjs/swagger';
import { UserDto } from '../../users/dto/user.dto.js';

/** Who just signed in: the account the new session belongs to. */
export class SignedInDto extends PickType(UserDto, ['userId', 'username'] as const) {}
