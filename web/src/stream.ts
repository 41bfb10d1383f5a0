/**
 * Follows one build over the documented client stream (/api/v1/stream, shared/protocol/client.ts). Every
 * frame is validated with the shared StreamMessageSchema; one that does not match is reported and ignored.
 * The browser cannot set headers on a WebSocket, so the token goes in `?access_token=` as the master allows.
 * When the connection drops before stream:end it reconnects with backoff; LogLines skips chunks seen before.
 */
import { parseStreamMessage, type BuildStatus, type StreamMessage } from '../../shared/protocol/client';

export interface BuildStreamHandlers {
  onLog(m: Extract<StreamMessage, { type: 'stream:log' }>): void;
  onStatus(m: Extract<StreamMessage, { type: 'stream:status' }>): void;
  onEnd(status: BuildStatus): void;
  /** The subscription was refused (not_found...) or a frame was malformed; fatal when the stream stops. */
  onError(message: string, fatal: boolean): void;
  /** Connected (true) or waiting to reconnect (false). */
  onConnection?(connected: boolean): void;
}

/** Starts following; returns a function that stops it. */
export function followBuild(token: string, buildId: number, h: BuildStreamHandlers): () => void {
  let ws: WebSocket | null = null;
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = `${window.location.origin.replace(/^http/, 'ws')}/api/v1/stream?access_token=${encodeURIComponent(token)}`;

  const connect = () => {
    if (stopped) return;
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      attempt = 0;
      h.onConnection?.(true);
      sock.send(JSON.stringify({ type: 'client:subscribe', buildId }));
    };
    sock.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      const msg = parseStreamMessage(ev.data);
      if (typeof msg === 'string') return h.onError(msg, false);
      if ('buildId' in msg && msg.buildId !== undefined && msg.buildId !== buildId) return;
      switch (msg.type) {
        case 'stream:log':
          h.onLog(msg);
          break;
        case 'stream:status':
          h.onStatus(msg);
          break;
        case 'stream:end':
          stopped = true;
          h.onEnd(msg.status);
          sock.close();
          break;
        case 'stream:error':
          stopped = true;
          h.onError(`${msg.code}: ${msg.message}`, true);
          sock.close();
          break;
        case 'stream:subscribed':
          break;
        default: {
          const never: never = msg;
          void never;
        }
      }
    };
    sock.onclose = (ev) => {
      if (stopped) return;
      h.onConnection?.(false);
      // 4001: the credential was refused (revoked token, disabled user): reconnecting cannot help.
      if (ev.code === 4001) {
        stopped = true;
        return h.onError('the log stream was closed: log in again', true);
      }
      attempt++;
      timer = setTimeout(connect, Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    ws?.close();
  };
}
