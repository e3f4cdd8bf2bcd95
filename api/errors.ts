/**
 * API errors: each becomes a JSON body `{ error: { code, message, parameter? } }` with its
 * status. Anything else is a 500 whose details go to the log (one JSON line on stderr, which
 * Ponder's process output carries), never to the client.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { FabstirError } from "../protocol/errors.ts";
import { createLogger } from "../protocol/logger.ts";

const log = createLogger({ name: "fabstir-api" });

export class ApiError extends FabstirError {
  readonly status: ContentfulStatusCode;
  override readonly code: string;
  override readonly userError: boolean;
  readonly parameter?: string;
  constructor(status: ContentfulStatusCode, code: string, message: string, parameter?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.userError = status < 500;
    this.parameter = parameter;
  }
}

export class InvalidParameterError extends ApiError {
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
  log.error(
    { err: err instanceof Error ? err.stack : String(err), method: c.req.method, path: c.req.path },
    "API request failed",
  );
  return c.json({ error: { code: "internal", message: "internal error" } }, 500);
}
