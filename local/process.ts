/**
 * Child processes and ports for the local marketplace (and the tests that start its parts):
 * start a program with its output kept for error messages, wait for a condition, find a
 * free loopback port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Whether something already listens on 127.0.0.1:port. */
export async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** Removes ANSI escape sequences (colours, cursor moves) from process output. */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

export interface Proc {
  child: ChildProcess;
  /** The last 100 kB of stdout and stderr, without colour codes. */
  output: () => string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export function startProcess(
  cmd: string,
  args: string[],
  opts: {
    cwd: string;
    env?: NodeJS.ProcessEnv;
    /**
     * Run it in its own process group, so a Ctrl-C in the terminal (SIGINT to the whole
     * foreground group) does not reach it and the parent stops it in its own time (the chain
     * must outlive the parts that settle on it at shutdown). It is killed when the parent exits.
     */
    detached?: boolean;
  },
): Proc {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    detached: opts.detached ?? false,
    // Logs are matched by tests: ask for plain text, and strip colour codes anyway
    // (some CI environments force colour on, which broke a log match once).
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...opts.env },
    stdio: "pipe",
  });
  let out = "";
  const append = (d: Buffer) => {
    out = (out + d.toString()).slice(-100_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  if (opts.detached) {
    // Outside the terminal's group nothing else would stop it if the parent died first.
    const killOnExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    };
    process.once("exit", killOnExit);
    void exited.then(() => process.off("exit", killOnExit));
  }
  return {
    child,
    output: () => stripAnsi(out),
    exited,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
