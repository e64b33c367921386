/**
 * One HTTP server on 127.0.0.1 that carries both a simulator's REST answers and its WebSocket upgrades, as the
 * venues serve both from one host. Only the loopback address is bound: a simulator is never reachable from
 * another machine.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

export const LOOPBACK = "127.0.0.1";

export interface HttpAnswer {
  status: number;
  /** JSON text. */
  body: string;
}

export interface LoopbackHandlers {
  /** A GET (or other) request: path and query in `url`. */
  request(method: string, url: URL): HttpAnswer;
  /** A WebSocket upgrade: complete it, or refuse it with `refuseUpgrade`. */
  upgrade(req: IncomingMessage, url: URL, socket: Duplex, head: Buffer): void;
}

export async function listenLoopback(
  port: number,
  handlers: LoopbackHandlers,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const answer = handlers.request(req.method ?? "GET", urlOf(req));
    res.writeHead(answer.status, {
      "content-type": "application/json;charset=UTF-8",
      "content-length": Buffer.byteLength(answer.body),
    });
    res.end(answer.body);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    handlers.upgrade(req, urlOf(req), socket, head);
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, LOOPBACK, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  return { server, port: address.port };
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Bad Request"}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function urlOf(req: IncomingMessage): URL {
  return new URL(req.url ?? "/", `http://${LOOPBACK}`);
}
