/**
 * Unverified webhook deliveries are counted per repository, bounded in rows and age (issue 6, isolation 3:
 * every unsigned ping used to add a trigger_events row that nothing pruned).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KEEP_MS, MAX_REPOS, unverifiedDeliveries } from '../../master/webhooks/unverified';
import { tempStore } from './platform-fixtures';

let store: ReturnType<typeof tempStore>;
afterEach(() => store?.cleanup());

describe('unverified deliveries', () => {
  it('counts per repository and keeps at most MAX_REPOS repositories, the most recently seen', () => {
    store = tempStore();
    const u = unverifiedDeliveries(store.db);
    for (let i = 0; i < MAX_REPOS + 5; i++) u.count(`git.example/r${i}`, 'github', 'no secret', 1_000 + i);
    u.count('git.example/r7', 'gitlab', 'wrong token', 10_000);
    const list = u.list(MAX_REPOS * 2);
    expect(list).toHaveLength(MAX_REPOS);
    expect(list[0]).toMatchObject({ repo: 'git.example/r7', count: 2, firstAt: 1_007, lastAt: 10_000, lastProvider: 'gitlab', lastReason: 'wrong token' });
    expect(list.some((c) => c.repo === 'git.example/r0')).toBe(false);
    expect(u.list(3)).toHaveLength(3);
  });

  it('forgets repositories not seen for KEEP_MS and cuts long keys', () => {
    store = tempStore();
    const u = unverifiedDeliveries(store.db);
    u.count('old', 'github', 'x', 1);
    u.count('x'.repeat(5000), 'generic', 'y'.repeat(5000), KEEP_MS + 10);
    const list = u.list(10);
    expect(list.map((c) => c.repo.length)).toEqual([200]);
    expect(list[0].lastReason.length).toBe(500);
  });
});
