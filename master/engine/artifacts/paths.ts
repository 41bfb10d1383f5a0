/**
 * Where artifacts live on the master's disk and which artifact paths are acceptable.
 * Layout: <dataDir>/artifacts/<buildId>/<stageRunId>/<path>; uploads are written to
 * <dataDir>/artifacts/.incoming/ first and renamed into place once complete and verified, so a partial or
 * refused upload is never visible under its final name.
 */
import { rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { badRequest } from '../../../shared/errors';

const MAX_PATH_CHARS = 1024;

/**
 * The artifact path as stored: relative, '/'-separated, without '.' or empty segments.
 * Throws invalid_request (naming the path) for an absolute path, '..', a NUL byte or backslashes.
 */
export function checkArtifactPath(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0) throw badRequest('path: required, the artifact path relative to the workspace');
  const shown = JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw);
  if (raw.length > MAX_PATH_CHARS) throw badRequest(`path ${shown}: longer than ${MAX_PATH_CHARS} characters`);
  if (raw.includes('\0')) throw badRequest(`path ${shown}: contains a NUL byte`);
  if (raw.includes('\\')) throw badRequest(`path ${shown}: use '/' as separator, not '\\'`);
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw badRequest(`path ${shown}: must be relative to the workspace, not absolute`);
  const parts = raw.split('/');
  if (parts.includes('..')) throw badRequest(`path ${shown}: must not contain '..'`);
  const clean = parts.filter((p) => p !== '' && p !== '.');
  if (clean.length === 0) throw badRequest(`path ${shown}: names no file`);
  return clean.join('/');
}

export function artifactsRoot(dataDir: string): string {
  return join(dataDir, 'artifacts');
}

export function incomingDir(dataDir: string): string {
  return join(artifactsRoot(dataDir), '.incoming');
}

/** storage_path column value: relative to the data dir, so a moved data dir keeps working. */
export function storagePath(buildId: number, stageRunId: number, path: string): string {
  return ['artifacts', String(buildId), String(stageRunId), ...path.split('/')].join('/');
}

/** Absolute file of a storage_path; refuses anything that would leave <dataDir>/artifacts. */
export function resolveStorage(dataDir: string, storage: string): string {
  const root = resolve(artifactsRoot(dataDir));
  const abs = resolve(dataDir, storage);
  if (!abs.startsWith(root + sep)) throw new Error(`artifact storage path ${JSON.stringify(storage)} is outside ${root}`);
  return abs;
}

/**
 * Removes the files of deleted builds (retention). Rows go with the builds (ON DELETE CASCADE); engine-core
 * calls this with the ids of the builds it deleted.
 */
export function deleteArtifactFiles(dataDir: string, buildIds: number[]): void {
  for (const id of buildIds) rmSync(join(artifactsRoot(dataDir), String(id)), { recursive: true, force: true });
}
