/**
 * Artifacts between agent and master over HTTP(S), streamed from and to disk with sha256 checks:
 *  - upload:   PUT /api/v1/agent/stage-runs/:id/artifacts?path=  (Bearer agent token, X-Slipway-Epoch,
 *              X-Slipway-Sha256); a refusal (413 over the size limit, 409...) throws with the master's message.
 *  - download: GET /api/v1/agent/artifacts/:id into the workspace; size and checksum are verified.
 * When the agent is root, an artifact is read by `cat` running as the job's build user into a root-only
 * staging file, which is then hashed and sent: a step that swaps a symlink into the path after the glob looked
 * cannot make the agent send a file only root may read (the agent's token, another job's workspace).
 */
import type { FindingsSummary } from '../shared/api';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fromBody } from '../shared/errors';
import type { RunAs } from './executors/types';
import { copyOutAs } from './git/as-build-user';
import { checkRelativePattern, globFiles, type MatchedFile } from './glob';

export interface MasterEndpoint {
  /** http(s)://host:port of the master. */
  url: string;
  token: string;
  /** CA certificate(s) to trust for https (from --ca-file). */
  ca?: Buffer;
}

export interface UploadedArtifact {
  path: string;
  size: number;
  sha256: string;
}

export interface InputArtifact {
  id: number;
  path: string;
  size: number;
  sha256: string;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes a download to `dest` (mode 0600) while hashing it: what arrived, for the caller to check. */
export async function saveHashed(body: Readable, dest: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(body, tap, createWriteStream(dest, { mode: 0o600 }));
  return { sha256: hash.digest('hex'), bytes };
}

export function request(
  endpoint: MasterEndpoint,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: Readable,
): Promise<http.IncomingMessage> {
  const url = new URL(path, endpoint.url);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers: { authorization: `Bearer ${endpoint.token}`, ...headers }, ca: endpoint.ca }, resolve);
    req.on('error', reject);
    if (body) {
      body.on('error', (e) => req.destroy(e));
      body.pipe(req);
    } else req.end();
  });
}

async function readText(res: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export async function failure(res: http.IncomingMessage, what: string): Promise<Error> {
  const text = await readText(res);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const err = fromBody(res.statusCode ?? 500, body);
  return new Error(`${what}: ${err.message} (HTTP ${res.statusCode})`);
}

/** Expand the stage's artifact declarations; a declaration that matches no file is an error. */
export async function collectArtifacts(workspace: string, patterns: string[]): Promise<MatchedFile[]> {
  const byPath = new Map<string, MatchedFile>();
  for (const pattern of patterns) {
    const files = await globFiles(workspace, pattern);
    if (!files.length) throw new Error(`artifact '${pattern}' matched no file in the workspace`);
    for (const f of files) byPath.set(f.path, f);
  }
  return [...byPath.values()];
}

/** How to read a workspace file as its build user: staged by `cat` as runAs into a temp dir under stagingDir. */
export interface ReadAs {
  /** The workspace the artifact paths are relative to. */
  workspace: string;
  runAs: RunAs;
  /** A root-only directory for the staged copy (e.g. <workDir>/builds). */
  stagingDir: string;
}

/**
 * Uploads one collected file. With readAs the file is read as the build user (see the header) and may not grow
 * beyond the size the glob saw; without it (agent not root) it is read directly.
 */
export async function uploadArtifact(endpoint: MasterEndpoint, stageRunId: number, epoch: number, file: MatchedFile, readAs?: ReadAs): Promise<UploadedArtifact> {
  if (!readAs) return sendFile(endpoint, stageRunId, epoch, file.path, file.abs, file.size);
  const tmp = await mkdtemp(join(readAs.stagingDir, `out-${stageRunId}-`));
  try {
    const staged = join(tmp, 'artifact');
    const size = await copyOutAs(readAs.workspace, file.path, staged, readAs.runAs, file.size);
    return await sendFile(endpoint, stageRunId, epoch, file.path, staged, size);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function sendFile(endpoint: MasterEndpoint, stageRunId: number, epoch: number, path: string, abs: string, size: number): Promise<UploadedArtifact> {
  const sha256 = await sha256File(abs);
  const res = await request(
    endpoint,
    'PUT',
    `/api/v1/agent/stage-runs/${stageRunId}/artifacts?path=${encodeURIComponent(path)}`,
    { 'content-type': 'application/octet-stream', 'content-length': size, 'x-slipway-epoch': epoch, 'x-slipway-sha256': sha256 },
    createReadStream(abs),
  );
  if (res.statusCode !== 200 && res.statusCode !== 201) throw await failure(res, `upload of artifact '${path}' refused`);
  await readText(res);
  return { path, size, sha256 };
}

/** Download an earlier stage's artifact to <workspace>/<path>; throws on HTTP error, size or checksum mismatch. */
export async function downloadArtifact(endpoint: MasterEndpoint, stageRunId: number, epoch: number, input: InputArtifact, workspace: string): Promise<void> {
  const rel = checkRelativePattern(input.path, 'input artifact path');
  const dest = join(workspace, rel);
  const res = await request(endpoint, 'GET', `/api/v1/agent/artifacts/${input.id}`, {
    'x-slipway-epoch': epoch,
    'x-slipway-stage-run': stageRunId,
  });
  if (res.statusCode !== 200) throw await failure(res, `download of artifact '${input.path}' (id ${input.id}) failed`);
  await mkdir(dirname(dest), { recursive: true });
  const { sha256, bytes: size } = await saveHashed(res, dest);
  if (size !== input.size || sha256 !== input.sha256) {
    await rm(dest, { force: true });
    throw new Error(`artifact '${input.path}' (id ${input.id}) arrived corrupted: ${size} bytes sha256 ${sha256}, expected ${input.size} bytes sha256 ${input.sha256}`);
  }
}

/** What the master made of a report (shared/api.ts ReportSummary). */
export interface UploadedReport {
  id: number;
  format: string;
  path: string;
  status: 'parsed' | 'missing' | 'malformed';
  error: string | null;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  durationMs: number;
  /** The first failing tests, for the step log. */
  failed: { name: string; classname: string | null; message: string | null }[];
  /** SARIF reports: counts per severity (total and new) and the first findings. */
  findingsSummary?: FindingsSummary;
}

/**
 * Uploads a step's report through the artifact path (stored as an artifact of the stage run, then parsed on the
 * master by the format's parser). `file` undefined reports the file as missing, so the build shows why.
 */
export async function uploadReport(
  endpoint: MasterEndpoint,
  stageRunId: number,
  epoch: number,
  stepIndex: number,
  spec: { format: string; path: string },
  file: MatchedFile | undefined,
  readAs?: ReadAs,
): Promise<UploadedReport> {
  const query = `step=${stepIndex}&format=${encodeURIComponent(spec.format)}&path=${encodeURIComponent(file?.path ?? spec.path)}`;
  const url = `/api/v1/agent/stage-runs/${stageRunId}/reports?${query}${file ? '' : '&missing=1'}`;
  const send = async (abs: string | undefined, size: number) => {
    const sha256 = abs ? await sha256File(abs) : createHash('sha256').digest('hex');
    const res = await request(
      endpoint,
      'PUT',
      url,
      { 'content-type': 'application/octet-stream', 'content-length': size, 'x-slipway-epoch': epoch, 'x-slipway-sha256': sha256 },
      abs ? createReadStream(abs) : Readable.from([]),
    );
    if (res.statusCode !== 200 && res.statusCode !== 201) throw await failure(res, `upload of report '${spec.path}' refused`);
    return JSON.parse(await readText(res)) as UploadedReport;
  };
  if (!file) return send(undefined, 0);
  if (!readAs) return send(file.abs, file.size);
  const tmp = await mkdtemp(join(readAs.stagingDir, `rep-${stageRunId}-`));
  try {
    const staged = join(tmp, 'report');
    const size = await copyOutAs(readAs.workspace, file.path, staged, readAs.runAs, file.size);
    return await send(staged, size);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
