/**
 * writeBuildLog under backpressure: every chunk written in order, and no listener left behind on the
 * response per wait (a long log download used to leave one `close` listener per 'drain', tripping Node's
 * MaxListenersExceededWarning on the master).
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeBuildLog } from '../../master/engine/logs/build-log';
import type { LogStore } from '../../master/engine/logs/log-store';

/** A log store stub serving `n` chunks of one stage run. */
function storeOf(chunks: Buffer[]): LogStore {
  return {
    read: (_id: number, after: number, limit: number) =>
      chunks.slice(after, after + limit).map((data, i) => ({ seq: after + i + 1, offset: 0, data })),
  } as unknown as LogStore;
}

/** A writable with a tiny buffer that drains asynchronously, so every write waits for 'drain'. */
function slowSink(): Writable & { got: Buffer[] } {
  const got: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk);
      setImmediate(cb);
    },
  }) as Writable & { got: Buffer[] };
  w.got = got;
  return w;
}

describe('writeBuildLog', () => {
  it('waits for drain without leaving listeners on the response', async () => {
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`line ${i + 1}\n`));
    const out = slowSink();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const before = { close: out.listenerCount('close'), drain: out.listenerCount('drain'), error: out.listenerCount('error') };
    try {
      expect(await writeBuildLog(storeOf(chunks), [{ id: 1, name: 'a', attempt: 1, stageIndex: 0 }], out)).toBe(true);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(Buffer.concat(out.got).toString()).toBe(chunks.map(String).join(''));
    expect({ close: out.listenerCount('close'), drain: out.listenerCount('drain'), error: out.listenerCount('error') }).toEqual(before);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('resolves false when the consumer goes away while it waits', async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.from(`line ${i + 1}\n`));
    const out = new Writable({ highWaterMark: 4, write: () => {} });
    const done = writeBuildLog(storeOf(chunks), [{ id: 1, name: 'a', attempt: 1, stageIndex: 0 }], out);
    setTimeout(() => out.destroy(), 20);
    expect(await done).toBe(false);
  });
});
