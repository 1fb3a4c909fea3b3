import type { ContentType, Visibility } from '../entities/document.entity.js';

/** A document as the API shows it. */
export class DocumentDto {
  id: string;
  ownerId: number;
  title: string;
  content: string;
  contentType: ContentType;
  visibility: Visibility;
  /** 1 when created, one more with each change. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A document in a list: everything but the content. */
export class DocumentSummaryDto {
  id: string;
  ownerId: number;
  title: string;
  contentType: ContentType;
  visibility: Visibility;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A page of documents. */
export class DocumentPageDto {
  items: DocumentSummaryDto[];
  nextCursor: string | null;
}
