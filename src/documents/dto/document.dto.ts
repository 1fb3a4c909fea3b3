import { ApiProperty, OmitType } from '@nestjs/swagger';
import {
  CONTENT_TYPES,
  VISIBILITIES,
  type ContentType,
  type Visibility,
} from '../entities/document.entity.js';

/** A document as the API shows it. */
export class DocumentDto {
  /** @example "0b6f1f8e-3c1e-4a57-9d7a-5f0d1a2b3c4d" */
  id: string;
  /** @example 42 */
  ownerId: number;
  /** @example "Meeting notes" */
  title: string;
  /** @example "# Agenda\n\n1. Budget" */
  content: string;
  /** @example "text/markdown" */
  @ApiProperty({ enum: CONTENT_TYPES })
  contentType: ContentType;
  /** @example "private" */
  @ApiProperty({ enum: VISIBILITIES })
  visibility: Visibility;
  /** 1 when created, one more with each change. @example 3 */
  version: number;
  /** @example "2026-11-25T09:30:00.000Z" */
  createdAt: string;
  /** @example "2026-11-25T10:02:00.000Z" */
  updatedAt: string;
}

/** A document in a list: everything but the content. */
export class DocumentSummaryDto extends OmitType(DocumentDto, ['content'] as const) {}

/** A page of documents. */
export class DocumentPageDto {
  items: DocumentSummaryDto[];
  nextCursor: string | null;
}
