/**
 * Retention, at start and hourly: per job, finished builds beyond the newest config.retention.builds are
 * deleted (stage runs, steps, log chunks, reports and artifact rows cascade, the logs database's through the
 * store's TEMP triggers, which also drop the chunks' search index rows) together with their artifact files under <dataDir>/artifacts/<buildId>; log chunks
 * older than config.retention.logsDays are dropped from builds that are kept.
 */
import { deleteArtifactFiles } from './artifacts/paths';
import type { EngineCore } from './core';
import { createLogsStore } from '../store/logs';
import { buildsStore } from '../store/builds';

const HOUR_MS = 3_600_000;

export interface Retention {
  /** One pass; returns what it deleted. */
  run(now?: number): { builds: number; chunks: number };
  stop(): void;
}

export function startRetention(core: EngineCore): Retention {
  const { db, ctx } = core;
  const { builds: keep, logsDays } = ctx.config.retention;
  const logsStore = createLogsStore(db);
  const builds = buildsStore(db);

  function run(now = Date.now()): { builds: number; chunks: number } {
    const doomed = builds.buildsBeyond(keep);
    builds.deleteBuilds(doomed);
    deleteArtifactFiles(ctx.config.dataDir, doomed);
    const chunks = logsStore.deleteOlderThan(now - logsDays * 24 * HOUR_MS);
    if (doomed.length || chunks) ctx.log.info({ builds: doomed.length, chunks }, 'retention removed old builds and logs');
    return { builds: doomed.length, chunks };
  }

  const safeRun = () => {
    try {
      run();
    } catch (err) {
      ctx.log.error({ err }, 'retention pass failed');
    }
  };
  safeRun();
  const timer = setInterval(safeRun, HOUR_MS);
  timer.unref();
  return { run, stop: () => clearInterval(timer) };
}
