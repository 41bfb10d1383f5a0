/**
 * The background FTS5 indexer. Log chunks are stored unindexed on the hot path; this indexer copies them
 * into log_fts (rowid = log_chunks.id, content without ANSI escapes) a batch at a time and advances
 * log_index_state.last_rowid in the same transaction (store/logs.ts indexBatch), so a crash never indexes a
 * chunk twice or skips one.
 *
 * Pacing: every `intervalMs` it runs batches until it has caught up. A batch is one transaction of at most
 * `batchChunks` chunks and about `batchBytes` bytes of text; between batches it yields to the event loop, so
 * agent frames and HTTP requests are served while a big log is being indexed. While new chunks keep arriving
 * it waits as long as the last batch took before the next one (indexing takes at most about half of the
 * loop, the log path the rest); once they stop, it catches up batch after batch (setImmediate).
 */
import type { LogsStore } from '../../store/logs';
import { stripAnsi } from './ansi';

export interface IndexerOptions {
  /** How often the indexer looks for new chunks. Default 200 ms. */
  intervalMs?: number;
  /** At most this many chunks per transaction. Default 500. */
  batchChunks?: number;
  /** Aim for about this many bytes of log text per transaction. Default 256 KiB (about 10 ms of FTS work). */
  batchBytes?: number;
}

export interface Indexer {
  start(): void;
  /** Indexes what is left, synchronously, then stops the timer. */
  stop(): void;
  /** Indexes everything stored so far, synchronously. */
  flush(): void;
  /** Number of chunks stored but not yet indexed. */
  lag(): number;
}

export function createIndexer(store: LogsStore, log: { error: (obj: object, msg: string) => void }, options: IndexerOptions = {}): Indexer {
  const intervalMs = options.intervalMs ?? 200;
  const batchChunks = options.batchChunks ?? 500;
  const batchBytes = options.batchBytes ?? 256 * 1024;
  const toText = (data: Buffer) => stripAnsi(data.toString('utf8'));

  // Chunks per batch adapts to the chunk size seen, so a batch stays near batchBytes of text. It starts
  // small: chunks can be up to maxFrameBytes each, and a first batch of 500 of those would stall the loop.
  let limit = Math.min(batchChunks, 8);
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped = true;
  let newestSeen = 0;

  /** One transaction (store.indexBatch); returns true when more chunks may be waiting. */
  const indexBatch = (): boolean => {
    const asked = limit;
    const { chunks, bytes } = store.indexBatch(asked, toText);
    if (chunks === 0) return false;
    const avg = Math.max(1, bytes / chunks);
    limit = Math.max(1, Math.min(batchChunks, Math.floor(batchBytes / avg)));
    // A full batch means more chunks may be waiting.
    return chunks === asked;
  };

  const safeBatch = (): boolean => {
    try {
      return indexBatch();
    } catch (err) {
      // A failed batch is retried on the next tick; the chunks stay stored and readable meanwhile.
      log.error({ err }, 'log indexer batch failed');
      return false;
    }
  };

  const runUntilCaughtUp = (): void => {
    if (stopped) {
      running = false;
      return;
    }
    const started = performance.now();
    if (!safeBatch()) {
      running = false;
      return;
    }
    const newest = store.newestChunkId();
    const arriving = newest !== newestSeen;
    newestSeen = newest;
    if (arriving) setTimeout(runUntilCaughtUp, Math.ceil(performance.now() - started));
    else setImmediate(runUntilCaughtUp);
  };

  const tick = (): void => {
    if (running || stopped) return;
    running = true;
    runUntilCaughtUp();
  };

  const flush = (): void => {
    // Each call indexes one batch; a batch that was not full means everything stored is indexed.
    while (safeBatch());
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      flush();
    },
    flush,
    lag: () => store.indexLag(),
  };
}
