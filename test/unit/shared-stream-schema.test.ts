import { describe, expect, it } from 'vitest';
import { parseStreamMessage } from '../../shared/protocol/client';

describe('stream messages to clients (shared/protocol/client.ts)', () => {
  it('parses every message kind the master sends', () => {
    const frames = [
      { type: 'stream:subscribed', buildId: 1 },
      { type: 'stream:log', buildId: 1, stageRunId: 2, stage: 'build', seq: 3, offset: 0, data: 'hi\n' },
      { type: 'stream:status', buildId: 1, status: 'running', stageRunId: 2, stage: 'build', stageStatus: 'lost' },
      { type: 'stream:end', buildId: 1, status: 'success' },
      { type: 'stream:error', code: 'not_found', message: 'build 9 not found' },
    ];
    for (const f of frames) expect(parseStreamMessage(JSON.stringify(f))).toEqual(f);
  });

  it('names the problem of a frame that is not JSON or does not match, and never throws', () => {
    expect(parseStreamMessage('{')).toMatch(/not JSON/);
    expect(parseStreamMessage(JSON.stringify({ type: 'stream:log', buildId: 1, stageRunId: 2, stage: 'b', seq: 1, offset: 0, data: 5 }))).toMatch(/data/);
    expect(parseStreamMessage(JSON.stringify({ type: 'stream:end', buildId: 1, status: 'exploded' }))).toMatch(/status/);
    expect(parseStreamMessage(JSON.stringify({ type: 'stream:nope' }))).toMatch(/malformed/);
  });
});
