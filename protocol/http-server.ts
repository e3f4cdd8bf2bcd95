/** Serving a Hono app over HTTP on one address, and closing it gently. */
import type { AddressInfo } from "node:net";
import { type ServerType, serve as serveHttp } from "@hono/node-server";
import type { Hono } from "hono";

export interface HttpServer {
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  close: () => Promise<void>;
}

/** Serves the app on host:port (port 0 picks a free one). */
export async function startHttpServer(
  app: Hono,
  opts: { host?: string; port?: number } = {},
): Promise<HttpServer> {
  const host = opts.host ?? "127.0.0.1";
  let server: ServerType | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    server = serveHttp({ fetch: app.fetch, hostname: host, port: opts.port ?? 0 }, (info) =>
      resolve((info as AddressInfo).port),
    );
    server.once("error", reject);
  });
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown === "0.0.0.0" ? "127.0.0.1" : shown}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        // Let open streams finish; drop idle keep-alive sockets now.
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        server.close(() => resolve());
      }),
  };
}
