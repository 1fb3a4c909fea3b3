import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, Length } from 'class-validator';
import { IsOmittable } from '../../common/validation/is-omittable.js';
import {
  CONTENT_TYPES,
  VISIBILITIES,
  type ContentType,
  type Visibility,
} from '../entities/document.entity.js';
import { MaxBytes } from './max-bytes.js';
import { NoNulCharacter } from './no-nul-character.js';

/** Largest content accepted: 512 KiB in UTF-8. */
export const MAX_CONTENT_BYTES = 512 * 1024;

/** Body of `POST /documents`. */
export class CreateDocumentDto {
  /** 1 to 200 characters. @example "Meeting notes" */
  @IsString()
  @Length(1, 200)
  @NoNulCharacter()
  title: string;

  /** Up to 512 KiB in UTF-8. @example "# Agenda\n\n1. Budget" */
  @IsString()
  @MaxBytes(MAX_CONTENT_BYTES)
  @NoNulCharacter()
  content: string;

  /** How `/documents/{id}/raw` serves the content; text/plain when not given. @example "text/markdown" */
  @ApiPropertyOptional({ enum: CONTENT_TYPES })
  @IsOmittable()
  @IsIn(CONTENT_TYPES)
  contentType?: ContentType;

  /** `private` (the default) documents exist only for their owner. @example "private" */
  @ApiPropertyOptional({ enum: VISIBILITIES })
  @IsOmittable()
  @IsIn(VISIBILITIES)
  visibility?: Visibility;
}
