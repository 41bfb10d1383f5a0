/**
 * The HTTP(S) server: node:https when a certificate and key are configured (agents then connect over WSS),
 * else node:http. Resolves once listening, with the actual port (port 0 picks a free one).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { MasterConfig } from '../context';

export interface Listening {
  server: http.Server | https.Server;
  port: number;
  /** http(s)://host:port, with a wildcard listen address replaced by loopback. */
  url: string;
}

export async function listen(config: MasterConfig, app: RequestListener): Promise<Listening> {
  const server = config.tls
    ? https.createServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, app)
    : http.createServer(app);
  // Slow-loris guard: a client must send its headers within 30 s.
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return { server, port, url: `${config.tls ? 'https' : 'http'}://${host}:${port}` };
}

/** Stops accepting, ends idle keep-alive sockets at once and the rest when they finish (or after 5 s). */
export async function closeServer(server: http.Server | https.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 5000);
  await closed;
  clearTimeout(force);
}
