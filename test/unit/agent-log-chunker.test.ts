import { describe, expect, it } from 'vitest';
import { LogChunker } from '../../agent/log-chunker';

describe('LogChunker', () => {
  it('cuts chunks at the last newline within the limit', () => {
    const out: string[] = [];
    const c = new LogChunker(16, (b) => out.push(b.toString()));
    c.push(Buffer.from('aaaa\nbbbb\ncccc\ndddd\n'));
    expect(out).toEqual(['aaaa\nbbbb\ncccc\n']);
    c.flush();
    expect(out).toEqual(['aaaa\nbbbb\ncccc\n', 'dddd\n']);
  });

  it('cuts at the limit when a line is longer than a chunk, losing nothing', () => {
    const out: Buffer[] = [];
    const c = new LogChunker(10, (b) => out.push(Buffer.from(b)));
    const input = 'x'.repeat(25) + '\nyy';
    c.push(Buffer.from(input.slice(0, 7)));
    c.push(Buffer.from(input.slice(7)));
    c.flush();
    expect(out.every((b) => b.length <= 10)).toBe(true);
    expect(Buffer.concat(out).toString()).toBe(input);
  });

  it('coalesces small writes until flush', () => {
    const out: string[] = [];
    const c = new LogChunker(1024, (b) => out.push(b.toString()));
    for (let i = 0; i < 10; i++) c.push(Buffer.from(`line ${i}\n`));
    expect(out).toEqual([]);
    expect(c.pendingBytes).toBe(70);
    c.flush();
    expect(out.length).toBe(1);
    expect(out[0].split('\n').length).toBe(11);
  });
});
