import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };

type Schemas = components['schemas'];
export type User = Schemas['UserDto'];
export type Credentials = Schemas['CredentialsDto'];
export type Session = Schemas['SessionDto'];
export type SessionPage = Schemas['SessionPageDto'];
export type Document = Schemas['DocumentDto'];
export type DocumentSummary = Schemas['DocumentSummaryDto'];
export type DocumentPage = Schemas['DocumentPageDto'];
export type NewDocument = Schemas['CreateDocumentDto'];
export type DocumentChanges = Schemas['UpdateDocumentDto'];
/** The body of every error (application/problem+json). */
export type Problem = Schemas['ProblemDetailsDto'];

export type DocsApiClient = Client<paths>;

export interface DocsApiOptions extends ClientOptions {
  /** Where the API is served, e.g. `https://docs.example.com`. */
  baseUrl: string;
}

/**
 * A client of the Documents API: one typed method per HTTP verb, paths and bodies checked
 * against the contract. The session lives in the `sid` cookie: a browser sends it by itself
 * (`credentials: 'include'`); in Node pass `fetch: cookieJar().fetch` from `./cookie-jar`.
 */
export function createDocsApiClient(options: DocsApiOptions): DocsApiClient {
  return createClient<paths>({ credentials: 'include', ...options });
}
