/**
 * Follows a build over the client stream (/api/v1/stream, shared/protocol/client.ts): prints the stored log
 * and then live chunks until stream:end, and resolves with the build's final status. When the connection
 * drops (master restart) it reconnects and skips chunks it already printed, by stage run and seq. Every frame
 * is parsed with the stream's zod schema before it is used.
 */
import WebSocket from 'ws';
import type { ApiClient } from '../../shared/client/api-client';
import { SlipwayError, type ErrorCode } from '../../shared/errors';
import { parseStreamMessage, type BuildStatus, type StreamMessage } from '../../shared/protocol/client';

const RECONNECT_ATTEMPTS = 30;
const RECONNECT_DELAY_MS = 1000;

type Outcome = { done: true; status: BuildStatus } | { done: false; reason: string };

export async function followBuild(client: ApiClient, buildId: number, out: NodeJS.WritableStream): Promise<BuildStatus> {
  const printed = new Map<number, number>();
  let lastStage: number | undefined;
  const onLog = (m: Extract<StreamMessage, { type: 'stream:log' }>) => {
    if ((printed.get(m.stageRunId) ?? 0) >= m.seq) return;
    printed.set(m.stageRunId, m.seq);
    if (lastStage !== m.stageRunId) {
      process.stderr.write(`==> stage ${m.stage}\n`);
      lastStage = m.stageRunId;
    }
    out.write(m.data);
  };
  // A stage waiting at its approval gate is said once, with the command that approves it.
  const toldWaiting = new Set<number>();
  const onWaiting = (stageRunId: number, stage: string) => {
    if (toldWaiting.has(stageRunId)) return;
    toldWaiting.add(stageRunId);
    process.stderr.write(`==> stage ${stage} waits for approval: slipway approve ${buildId} --stage ${stage} (or reject)\n`);
  };
  const onSubscribed = () => {
    // A gate reached before the subscription sent its status already: ask the build.
    client.getBuild(buildId).then(
      (b) => b.stages.filter((s) => s.status === 'waiting').forEach((s) => onWaiting(s.id, s.name)),
      () => undefined,
    );
  };
  let lastReason = '';
  for (let attempt = 0; attempt <= RECONNECT_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS));
    const outcome = await followOnce(client, buildId, { onLog, onWaiting, onSubscribed });
    if (outcome.done) return outcome.status;
    lastReason = outcome.reason;
  }
  throw new SlipwayError('unavailable', `lost the log stream of build ${buildId}: ${lastReason}`);
}

interface FollowHandlers {
  onLog(m: Extract<StreamMessage, { type: 'stream:log' }>): void;
  /** A stage run of the build went to 'waiting' (its approval gate). */
  onWaiting(stageRunId: number, stage: string): void;
  onSubscribed(): void;
}

/** One connection: resolves done at stream:end, not done when the socket drops; throws on stream:error. */
function followOnce(client: ApiClient, buildId: number, { onLog, onWaiting, onSubscribed }: FollowHandlers): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(client.streamUrl(), { headers: { authorization: `Bearer ${client.token ?? ''}` } });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      ws.close();
    };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'client:subscribe', buildId })));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      // Validated like the web UI does (shared/protocol/client.ts): a frame that does not match is refused.
      const msg = parseStreamMessage(data.toString());
      if (typeof msg === 'string') return settle(() => reject(new SlipwayError('internal', `the master sent a bad stream frame: ${msg}`)));
      switch (msg.type) {
        case 'stream:log':
          if (msg.buildId === buildId) onLog(msg);
          break;
        case 'stream:end':
          if (msg.buildId === buildId) settle(() => resolve({ done: true, status: msg.status }));
          break;
        case 'stream:error': {
          const code = (msg.code in { not_found: 1, forbidden: 1, unauthenticated: 1, invalid_request: 1 } ? msg.code : 'internal') as ErrorCode;
          settle(() => reject(new SlipwayError(code, msg.message)));
          break;
        }
        case 'stream:subscribed':
          if (msg.buildId === buildId) onSubscribed();
          break;
        case 'stream:status':
          if (msg.buildId === buildId && msg.stageStatus === 'waiting' && msg.stageRunId !== undefined && msg.stage) onWaiting(msg.stageRunId, msg.stage);
          break;
        default: {
          const never: never = msg;
          void never;
        }
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401 || status === 403 || status === 404) {
        const code: ErrorCode = status === 401 ? 'unauthenticated' : status === 403 ? 'forbidden' : 'not_found';
        settle(() => reject(new SlipwayError(code, `log stream refused: HTTP ${status}`)));
      } else settle(() => resolve({ done: false, reason: `HTTP ${status}` }));
    });
    ws.on('error', (err) => settle(() => resolve({ done: false, reason: err.message })));
    ws.on('close', (code) => settle(() => resolve({ done: false, reason: `connection closed (${code})` })));
  });
}
