import { PartialType } from '@nestjs/swagger';
import { CreateDocumentDto } from './create-document.dto.js';

/**
 * Body of `PATCH /documents/{id}`: any of the fields of a new document. A field given as
 * `null` is refused like any other invalid value (`skipNullProperties: false`), not skipped.
 */
export class UpdateDocumentDto extends PartialType(CreateDocumentDto, {
  skipNullProperties: false,
}) {}
