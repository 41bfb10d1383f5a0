/**
 * Adapter (the store's interface has no listing of apps): the apps that have container logs in the log center
 * file, read once at start from its `labels` table over a read-only connection, so admins can search apps that
 * no job deploys (opted in by label) after a master restart. Apps stored later are added by ingest.ts.
 */
import Database from 'better-sqlite3';
import type { Logger } from 'pino';

export function storedApps(file: string, log: Logger): () => string[] {
  let apps: string[] = [];
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      apps = (db.prepare('SELECT DISTINCT app FROM labels').pluck().all() as string[]) ?? [];
    } finally {
      db.close();
    }
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'could not list the apps stored in the log center; admins see apps as their logs arrive');
  }
  return () => apps;
}
