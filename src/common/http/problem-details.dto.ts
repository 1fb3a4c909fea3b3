/** The body of every error: RFC 9457 problem details with a stable code and the request id. */
export class ProblemDetailsDto {
  /** Always `about:blank`: `title` is the status text. @example "about:blank" */
  type: string;
  /** @example "Not Found" */
  title: string;
  /** @example 404 */
  status: number;
  /** Stable, for programs. @example "DOCUMENT_NOT_FOUND" */
  code: string;
  /** For people. @example "No such document" */
  detail?: string;
  /** The path of the request. @example "/documents/0b6f1f8e-3c1e-4a57-9d7a-5f0d1a2b3c4d" */
  instance: string;
  /** Matches the X-Request-Id header and the log. @example "6f1c2e0a-5b7d-4c1e-9a51-2f4e7b9d8c3a" */
  requestId: string;
  /** Field messages of a validation failure. */
  errors?: string[];
  /** State of each check of a failed health check: `lifecycle` (readiness), or each dependency. */
  checks?: Record<string, unknown>;
}
