/**
 * The stream protocol between the master and its clients (web UI, CLI `logs -f`), over the WebSocket at
 * `/api/v1/stream`. The client authenticates like the HTTP API (Authorization: Bearer <jwt or API token>,
 * or `?access_token=` for browsers). Every subscription is checked against the caller's teams: a build the
 * caller may not see is answered with stream:error code 'not_found', exactly like the HTTP API's 404.
 *
 * On client:subscribe the master first sends the stored log of the build (every chunk after fromSeq per
 * stage run), then live chunks as they are committed, then stream:end when the build is finished.
 *
 * Both directions have a zod schema: the master parses client frames with ClientMessageSchema, and every
 * client (the CLI's follow, the web UI) parses master frames with StreamMessageSchema before using them.
 * This module runs in browsers too: it imports nothing but zod.
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

export const BuildStatusSchema = z.enum(['waiting', 'queued', 'running', 'success', 'failed', 'cancelled', 'timeout']);
export type BuildStatus = z.infer<typeof BuildStatusSchema>;
export const StageStatusSchema = z.enum([...BuildStatusSchema.options, 'lost', 'skipped', 'error']);
export type StageStatus = z.infer<typeof StageStatusSchema>;

/** The subscription is in place; the stored log follows. */
export const StreamSubscribedSchema = z.object({ type: z.literal('stream:subscribed'), buildId: id });
/** A log chunk (UTF-8 text); seq orders chunks within one stage run, offset is its byte offset there. */
export const StreamLogSchema = z.object({
  type: z.literal('stream:log'),
  buildId: id,
  stageRunId: id,
  /** The stage's name, for a header line when the stage changes. */
  stage: z.string(),
  seq: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  data: z.string(),
});
/** Build, stage or step state changed. */
export const StreamStatusSchema = z.object({
  type: z.literal('stream:status'),
  buildId: id,
  status: BuildStatusSchema,
  stageRunId: id.optional(),
  stage: z.string().optional(),
  stageStatus: StageStatusSchema.optional(),
  step: z.string().optional(),
  stepStatus: z.string().optional(),
});
/** The build is finished; no more messages for it. */
export const StreamEndSchema = z.object({ type: z.literal('stream:end'), buildId: id, status: BuildStatusSchema });
/** A subscription was refused or ended (code as in shared/errors: not_found, unauthenticated, ...). */
export const StreamErrorSchema = z.object({ type: z.literal('stream:error'), buildId: id.optional(), code: z.string(), message: z.string() });

export const StreamMessageSchema = z.discriminatedUnion('type', [
  StreamSubscribedSchema,
  StreamLogSchema,
  StreamStatusSchema,
  StreamEndSchema,
  StreamErrorSchema,
]);
export type StreamMessage = z.infer<typeof StreamMessageSchema>;

/**
 * Parses one text frame from the master. Returns the message, or a string naming the problem (not JSON, or
 * which field is wrong); never throws, so a client decides itself whether a bad frame ends its stream.
 */
export function parseStreamMessage(text: string): StreamMessage | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'stream frame is not JSON';
  }
  const r = StreamMessageSchema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  return `malformed stream frame: ${issue.path.join('.') || 'type'}: ${issue.message}`;
}
