/**
 * The stream protocol between the master and its clients (web UI, CLI `logs -f`), over the WebSocket at
 * `/api/v1/stream`. The client authenticates like the HTTP API (Authorization: Bearer <jwt or API token>,
 * or `?access_token=` for browsers). Every subscription is checked against the caller's teams: a build the
 * caller may not see is answered with stream:error code 'not_found', exactly like the HTTP API's 404.
 *
 * On client:subscribe the master first sends the stored log of the build (every chunk after fromSeq per
 * stage run), then live chunks as they are committed, then stream:end when the build is finished.
 */
import { z } from 'zod';

const id = z.number().int().positive();

export const ClientSubscribeSchema = z.object({
  type: z.literal('client:subscribe'),
  buildId: id,
});
export const ClientUnsubscribeSchema = z.object({ type: z.literal('client:unsubscribe'), buildId: id });
export const ClientMessageSchema = z.discriminatedUnion('type', [ClientSubscribeSchema, ClientUnsubscribeSchema]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type BuildStatus = 'waiting' | 'queued' | 'running' | 'success' | 'failed' | 'cancelled' | 'timeout';
export type StageStatus = BuildStatus | 'lost' | 'skipped' | 'error';

export type StreamMessage =
  | { type: 'stream:subscribed'; buildId: number }
  /** A log chunk (UTF-8 text); seq orders chunks within one stage run, offset is its byte offset there. */
  | { type: 'stream:log'; buildId: number; stageRunId: number; stage: string; seq: number; offset: number; data: string }
  /** Build, stage or step state changed. */
  | { type: 'stream:status'; buildId: number; status: BuildStatus; stageRunId?: number; stage?: string; stageStatus?: StageStatus; step?: string; stepStatus?: string }
  /** The build is finished; no more messages for it. */
  | { type: 'stream:end'; buildId: number; status: BuildStatus }
  | { type: 'stream:error'; buildId?: number; code: string; message: string };
