import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';

/**
 * The committed contract, `openapi.json`, as a judge of responses: every response a test server
 * gives during the e2e run is checked against it (status, the headers it names, the media type
 * and the body), and what does not match is a violation that fails the test that caused it.
 *
 * The committed file is the reference, not the test server's own /docs-json: the Swagger plugin
 * runs in `nest build`, not under ts-jest, so only the committed file has the full schemas (and
 * CI proves the committed file is what the build produces).
 */

type Schema = Record<string, unknown>;
interface MediaType {
  schema?: Schema;
}
interface HeaderObject {
  required?: boolean;
  schema?: Schema;
}
interface ResponseObject {
  headers?: Record<string, HeaderObject>;
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, ResponseObject>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export interface ObservedResponse {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** The body as sent, before any content encoding; undefined when streamed. */
  body: string | undefined;
}

/** Paths that are not part of the API: Swagger UI and routes that suites add for themselves. */
const OUTSIDE_CONTRACT = [/^\/docs(?:[/?-]|$)/, /^\/test\//];

const CONTRACT_FILE = new URL('../../openapi.json', import.meta.url);

/** Every object schema that lists its properties gets no others: the contract is exact. */
function closeObjects(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(closeObjects);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Schema;
  if (schema.properties && schema.additionalProperties === undefined) {
    schema.additionalProperties = false;
  }
  Object.values(schema).forEach(closeObjects);
}

function pointer(...parts: string[]): string {
  return parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
}

function pathPattern(template: string): RegExp {
  const source = template
    .split(/\{[^}]+\}/)
    .map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}$`);
}

export class Contract {
  private readonly ajv: Ajv;
  private readonly document: Document;
  private readonly templates: { template: string; pattern: RegExp }[];
  private readonly validators = new Map<string, ValidateFunction>();
  readonly violations: string[] = [];
  checked = 0;

  constructor(document: Document = JSON.parse(readFileSync(CONTRACT_FILE, 'utf8'))) {
    this.document = structuredClone(document);
    closeObjects(this.document.components);
    closeObjects(this.document.paths);
    this.ajv = new Ajv({ strict: false, allErrors: true });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
    addFormats(this.ajv);
    this.ajv.addSchema(this.document, 'openapi');
    this.templates = Object.keys(this.document.paths).map((template) => ({
      template,
      pattern: pathPattern(template),
    }));
  }

  /** What in the response the contract does not allow; empty when it keeps the contract. */
  check(response: ObservedResponse): string[] {
    const path = response.url.split('?')[0];
    if (OUTSIDE_CONTRACT.some((pattern) => pattern.test(path))) return [];
    // CORS preflights are answered by the CORS layer on every path; they are not operations.
    if (response.method === 'OPTIONS' && response.status === 204) return [];
    this.checked += 1;
    const where = `${response.method} ${response.url} -> ${response.status}`;
    if (response.body === undefined) return [`${where}: a streamed body, which cannot be checked`];
    const observed = { ...response, body: response.body };
    const found = this.templates.find(({ pattern }) => pattern.test(path));
    if (!found) {
      // No such path: a 404 problem, or a 429 one before routing.
      if (observed.status !== 404 && observed.status !== 429) {
        return [`${where}: a path the contract does not have`];
      }
      return this.checkBody(where, observed, '#/components/schemas/ProblemDetailsDto');
    }
    const item = this.document.paths[found.template];
    const method = observed.method.toLowerCase() === 'head' ? 'get' : observed.method.toLowerCase();
    let operationKey = method;
    if (!item[method]) {
      // A method the path does not take: the 405 any operation of the path documents.
      if (observed.status !== 405) return [`${where}: ${method} is not an operation of the path`];
      operationKey = Object.keys(item)[0];
    }
    const status = String(observed.status);
    const documented = item[operationKey].responses[status];
    if (!documented) {
      return [`${where}: status ${status} is not documented for ${found.template}`];
    }
    const problems = this.checkHeaders(where, observed, documented);
    const base = ['openapi#', 'paths', found.template, operationKey, 'responses', status];
    // HEAD bodies are dropped on the wire, after this check sees them.
    if (observed.method === 'HEAD') return problems;
    if (observed.status === 304) {
      if (observed.body.length > 0) problems.push(`${where}: a body where none is allowed`);
      return problems;
    }
    const content = documented.content ?? {};
    const mediaTypes = Object.keys(content);
    if (mediaTypes.length === 0) {
      if (observed.body.length > 0) problems.push(`${where}: a body the contract does not have`);
      return problems;
    }
    const contentType = String(observed.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    if (!mediaTypes.includes(contentType)) {
      problems.push(
        `${where}: Content-Type ${contentType || '(none)'} is not in ${mediaTypes.join(', ')}`,
      );
      return problems;
    }
    const schema = content[contentType].schema;
    if (!schema) return problems;
    const ref = pointer(...base, 'content', contentType, 'schema');
    return problems.concat(this.checkBody(where, observed, ref, schema.type !== 'string'));
  }

  /** Checks a response and keeps what is wrong with it. */
  record(response: ObservedResponse): void {
    this.violations.push(...this.check(response));
  }

  /** Takes the violations recorded so far. */
  drain(): string[] {
    return this.violations.splice(0);
  }

  private checkHeaders(
    where: string,
    response: ObservedResponse,
    documented: ResponseObject,
  ): string[] {
    const problems: string[] = [];
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const raw = response.headers[name.toLowerCase()];
      if (raw === undefined) {
        if (header.required) problems.push(`${where}: header ${name} is missing`);
        continue;
      }
      if (!header.schema) continue;
      const text = String(raw);
      const type = header.schema.type;
      const value = type === 'integer' || type === 'number' ? Number(text) : text;
      const validate = this.ajv.compile(header.schema);
      if (!validate(value)) {
        problems.push(`${where}: header ${name}: ${text} ${this.ajv.errorsText(validate.errors)}`);
      }
    }
    return problems;
  }

  private checkBody(
    where: string,
    response: ObservedResponse & { body: string },
    ref: string,
    parse = true,
  ): string[] {
    let body: unknown = response.body;
    if (parse) {
      try {
        body = JSON.parse(response.body);
      } catch {
        return [`${where}: the body is not JSON: ${response.body.slice(0, 200)}`];
      }
    }
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref.startsWith('#') ? `openapi${ref}` : ref });
      this.validators.set(ref, validate);
    }
    if (validate(body)) return [];
    const detail = this.ajv.errorsText(validate.errors, { dataVar: 'body' });
    return [`${where}: ${detail} in ${JSON.stringify(body).slice(0, 300)}`];
  }
}

/** The one judge of a test file's responses. */
export const contract = new Contract();

function bodyText(payload: unknown): string | undefined {
  if (payload === null || payload === undefined) return '';
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  return undefined;
}

/**
 * Has a Fastify instance report every response to the contract. Added before the application's
 * own hooks, it sees each body as serialized and before compression.
 */
export function observeResponses(fastify: FastifyInstance, judge: Contract = contract): void {
  fastify.addHook(
    'onSend',
    async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
      judge.record({
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        headers: reply.getHeaders(),
        body: bodyText(payload),
      });
      return payload;
    },
  );
}
