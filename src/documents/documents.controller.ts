import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import { CurrentUser, SessionOptional } from '../auth/decorators/auth.decorators.js';
import type { CacheOutcome } from './document-cache.js';
import { DocumentsService, etagOf } from './documents.service.js';
import { CreateDocumentDto } from './dto/create-document.dto.js';
import { DocumentDto, type DocumentPageDto } from './dto/document.dto.js';
import { ListDocumentsQuery } from './dto/list-documents.query.js';
import { UpdateDocumentDto } from './dto/update-document.dto.js';
import { ApiHeader, ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import { ApiProblem } from '../common/http/api-problem.decorator.js';
import { CanonicalUuidPipe } from '../common/http/canonical-uuid.pipe.js';
import { CONTENT_TYPES } from './entities/document.entity.js';
import { RAW_CONTENT_SECURITY_POLICY } from './raw-content-policy.js';

const READ_HEADERS = {
  ETag: { description: 'Strong validator of this version', schema: { type: 'string' } },
  'X-Cache': {
    description: 'HIT, MISS, or BYPASS (cache off or unreachable)',
    schema: { type: 'string', enum: ['HIT', 'MISS', 'BYPASS'] },
  },
};

const NOT_VISIBLE = 'No such document, or a private one of someone else';
const NOT_OWNER = "Someone else's public document (code NOT_OWNER), or a foreign Origin";

/** What both reads of a document can answer besides 200. */
const ApiDocumentRead = () =>
  applyDecorators(
    ApiResponse({
      status: 304,
      description: 'The If-None-Match tag is current',
      headers: READ_HEADERS,
    }),
    ApiProblem(400, 'The id is not a UUID'),
    ApiProblem(404, NOT_VISIBLE),
    ApiHeader({
      name: 'If-None-Match',
      required: false,
      description: 'ETag of the copy the client holds: 304 when it is still current',
    }),
  );

/** The `:id` of the route, validated and in lower case (see CanonicalUuidPipe). */
const DocumentId = () => Param('id', new CanonicalUuidPipe());

/** True when `If-None-Match` names the current version (or `*`); weak tags compare too. */
function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/** ETag and X-Cache on a document read; 304 without a body when the client has it already. */
function sendConditional(
  reply: FastifyReply,
  document: DocumentDto,
  cache: CacheOutcome,
  ifNoneMatch: string | undefined,
): FastifyReply | undefined {
  const etag = etagOf(document);
  void reply
    .header('etag', etag)
    .header('x-cache', cache)
    .header('cache-control', 'private, no-cache');
  if (notModified(ifNoneMatch, etag)) return reply.status(304).send();
  return undefined;
}

@Controller('documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  /** Stores a new document; `Location` names it. */
  @Post()
  async create(
    @CurrentUser() caller: AuthContext,
    @Body() body: CreateDocumentDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DocumentDto> {
    const document = await this.documents.create(caller, body);
    void reply.header('location', `/documents/${document.id}`).header('etag', etagOf(document));
    return document;
  }

  /** The documents visible to the caller (public ones and their own), newest first. */
  @Get()
  @SessionOptional()
  list(
    @CurrentUser() caller: AuthContext | undefined,
    @Query() query: ListDocumentsQuery,
  ): Promise<DocumentPageDto> {
    return this.documents.list(caller, query);
  }

  /** One document, with its ETag; 304 on a matching If-None-Match. */
  @ApiOkResponse({ type: DocumentDto, headers: READ_HEADERS })
  @ApiDocumentRead()
  @Get(':id')
  @SessionOptional()
  async read(
    @DocumentId() id: string,
    @CurrentUser() caller: AuthContext | undefined,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { document, cache } = await this.documents.read(id, caller);
    if (sendConditional(reply, document, cache, ifNoneMatch)) return;
    await reply.status(200).send(document);
  }

  /**
   * The content itself, with the document's own Content-Type, sandboxed and unable to load
   * anything, so a stored page can neither run script against this origin nor call home.
   */
  @ApiOkResponse({
    description: 'The content, with the Content-Type it was stored with',
    headers: {
      ...READ_HEADERS,
      'Content-Security-Policy': {
        description: 'Sandboxed, loading nothing from anywhere, whatever the content type',
        schema: { type: 'string', example: RAW_CONTENT_SECURITY_POLICY },
      },
    },
    content: Object.fromEntries(
      CONTENT_TYPES.map((type) => [type, { schema: { type: 'string' } }]),
    ),
  })
  @ApiDocumentRead()
  @Get(':id/raw')
  @SessionOptional()
  async raw(
    @DocumentId() id: string,
    @CurrentUser() caller: AuthContext | undefined,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { document, cache } = await this.documents.read(id, caller);
    void reply
      .header('content-type', `${document.contentType}; charset=utf-8`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', RAW_CONTENT_SECURITY_POLICY);
    if (sendConditional(reply, document, cache, ifNoneMatch)) return;
    await reply.status(200).send(document.content);
  }

  /** Changes a document of the caller's; a stale If-Match gets 412 and changes nothing. */
  @ApiProblem(404, NOT_VISIBLE)
  @ApiProblem(403, NOT_OWNER)
  @ApiProblem(412, 'If-Match does not name the current version')
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'ETag of the version this change is based on: 412 when it is no longer current',
  })
  @Patch(':id')
  async update(
    @DocumentId() id: string,
    @CurrentUser() caller: AuthContext,
    @Body() body: UpdateDocumentDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DocumentDto> {
    const document = await this.documents.update(id, caller, body, ifMatch);
    void reply.header('etag', etagOf(document));
    return document;
  }

  /** Deletes a document of the caller's; it is gone from the cache before this answers. */
  @ApiProblem(404, NOT_VISIBLE)
  @ApiProblem(403, NOT_OWNER)
  @Delete(':id')
  @HttpCode(204)
  remove(@DocumentId() id: string, @CurrentUser() caller: AuthContext): Promise<void> {
    return this.documents.remove(id, caller);
  }
}
