import { IsOptional, IsString, Length } from 'class-validator';
import { PageQuery } from '../../common/pagination/page.query.js';

/** `GET /documents` query: a page, optionally narrowed by a full-text search. */
export class ListDocumentsQuery extends PageQuery {
  /** Words to look for in titles and contents (web-search syntax: "quoted phrases", -not). */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  q?: string;
}
