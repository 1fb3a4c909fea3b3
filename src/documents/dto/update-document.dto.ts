import { PartialType } from '@nestjs/swagger';
import { CreateDocumentDto } from './create-document.dto.js';

/** Body of `PATCH /documents/{id}`: any of the fields of a new document. */
export class UpdateDocumentDto extends PartialType(CreateDocumentDto) {}
