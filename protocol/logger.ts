/**
 * The logger of every Fabstir program (pino): JSON lines with a message and snake_case fields.
 * Each program makes one and names itself (fabstir-node, fabstir-renter, fabstir-api, ...).
 */
import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * `stderr: true` for command-line tools whose stdout is their result (`--json` output must stay
 * one JSON document that a script can parse); services log to stdout.
 */
export function createLogger(
  options: { level?: string; name?: string; stderr?: boolean } = {},
): Logger {
  return pino(
    {
      name: options.name ?? "fabstir",
      level: options.level ?? process.env.FABSTIR_LOG_LEVEL ?? "info",
    },
    options.stderr ? pino.destination(2) : undefined,
  );
}

/** A logger that writes nothing (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: "silent" });
