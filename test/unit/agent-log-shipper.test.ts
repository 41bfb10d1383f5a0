import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SecretMasker } from '../../shared/mask';
import { LogShipper } from '../../agent/log-shipper';
import { RecordLog } from '../../agent/record-log';
import { CaptureTransport } from '../helpers/capture-transport';

describe('LogShipper', () => {
  it('masks a secret split across two reads and across a chunk boundary', () => {
    const t = new CaptureTransport();
    const log = new RecordLog(1, 0, t, 1 << 20);
    const shipper = new LogShipper(log, new SecretMasker(['hunter2-secret']), { maxChunkBytes: 12, flushMs: 1000 });
    shipper.write('token=hunt');
    shipper.write('er2-secret done\n');
    shipper.write(Buffer.from('again hunter2-sec'));
    shipper.write(Buffer.from('ret\n'));
    shipper.flush();
    shipper.close();
    expect(t.text()).toBe('token=*** done\nagain ***\n');
    expect(t.text()).not.toContain('hunter2');
    expect(t.frames.length).toBeGreaterThan(1);
  });

  it('flushes pending output on its timer', async () => {
    const t = new CaptureTransport();
    const shipper = new LogShipper(new RecordLog(1, 0, t, 1 << 20), new SecretMasker([]), { maxChunkBytes: 1024, flushMs: 20 });
    shipper.write('partial line');
    expect(t.frames.length).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.text()).toBe('partial line');
    shipper.close();
  });

  it('pauses attached streams when backlogged and resumes them on ack, dropping nothing', async () => {
    const t = new CaptureTransport();
    const log = new RecordLog(1, 0, t, 64);
    const shipper = new LogShipper(log, new SecretMasker([]), { maxChunkBytes: 32, flushMs: 1000 });
    const stream = new PassThrough();
    const done = shipper.attach(stream);
    const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`);
    for (const l of lines) stream.write(l);
    stream.end();
    await new Promise((r) => setTimeout(r, 50));
    expect(shipper.paused).toBe(true);
    expect(stream.isPaused()).toBe(true);
    const before = t.frames.length;
    // Acknowledge whatever arrives until the stream has ended.
    let ended = false;
    void done.then(() => (ended = true));
    while (!ended) {
      log.ack(log.lastSeq);
      await new Promise((r) => setTimeout(r, 5));
    }
    shipper.flush();
    shipper.close();
    expect(t.frames.length).toBeGreaterThan(before);
    expect(t.text()).toBe(lines.join(''));
  });
});
