/**
 * Output shared by the command-line tools: `--json` prints one JSON document on stdout
 * (bigints as decimal strings) for scripts; otherwise people get text, with progress on
 * stderr so stdout stays the answer. Errors print as `{"error": {...}}` with --json and
 * exit with status 1.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

export interface Output {
  json: boolean;
  /** The command's result. */
  result: (value: unknown, text: () => string) => void;
  /** A progress line on stderr (silent with --json). */
  progress: (line: string) => void;
  /** Prints the error and exits 1. */
  fail: (e: unknown) => never;
}

export function createOutput(json: boolean, program: string): Output {
  return {
    json,
    result: (value, text) => {
      process.stdout.write(`${json ? toJson(value) : text()}\n`);
    },
    progress: (line) => {
      if (!json) process.stderr.write(`${line}\n`);
    },
    fail: (e) => {
      const err = e as { code?: string; message?: string; jobId?: bigint; name?: string };
      if (json)
        process.stdout.write(
          `${toJson({ error: { code: err.code ?? err.name ?? "error", message: err.message ?? String(e), jobId: err.jobId ?? null } })}\n`,
        );
      else
        process.stderr.write(
          `${program}: ${err.message ?? String(e)}${err.code ? ` (${err.code})` : ""}\n`,
        );
      process.exit(1);
    },
  };
}

/** Wei as ETH (or base units as whole tokens with 18 decimals), trimmed. */
export function formatUnits18(v: bigint | string): string {
  const n = BigInt(v);
  const whole = n / 10n ** 18n;
  const frac = (n % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}
