/** `/metrics` (Prometheus text), `/healthz` (the process works) and `/readyz` (every feed connected). */
import { createServer, type Server } from "node:http";

export interface StatusServerOptions {
  port: number;
  host: string;
  /** The Prometheus text of `/metrics`. */
  metrics: { text(): Promise<string>; contentType: string };
  healthy(): boolean;
  ready(): boolean;
}

export function startStatusServer(o: StatusServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/metrics") {
      o.metrics
        .text()
        .then((text) => res.writeHead(200, { "content-type": o.metrics.contentType }).end(text))
        .catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    if (path === "/healthz" || path === "/readyz") {
      const ok = path === "/healthz" ? o.healthy() : o.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve(server));
  });
}
