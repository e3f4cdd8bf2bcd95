/** API errors: each becomes a JSON body `{ error: { code, message, parameter? } }` with its status. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly parameter?: string;
  constructor(status: ContentfulStatusCode, code: string, message: string, parameter?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
}

export class InvalidParameterError extends ApiError {
  override name = "InvalidParameterError";
  constructor(parameter: string, message: string) {
    super(400, "invalid_parameter", `${parameter}: ${message}`, parameter);
  }
  static fromZod(error: ZodError): InvalidParameterError {
    const issue = error.issues[0];
    const parameter = issue?.path.join(".") || "query";
    return new InvalidParameterError(parameter, issue?.message ?? "invalid");
  }
}

export class NotFoundError extends ApiError {
  override name = "NotFoundError";
  constructor(what: string) {
    super(404, "not_found", `${what} not found`);
  }
}

export function errorResponse(err: Error, c: Context) {
  if (err instanceof ApiError) {
    return c.json(
      {
        error: {
          code: err.code,
          message: err.message,
          ...(err.parameter ? { parameter: err.parameter } : {}),
        },
      },
      err.status,
    );
  }
  return c.json({ error: { code: "internal", message: "internal error" } }, 500);
}
