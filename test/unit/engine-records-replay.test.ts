/**
 * The record path over two database files (store/db.ts): a batch's log chunks commit in logs.db before the
 * control transaction that moves stage_runs.last_seq past them. A master that died between the two commits has
 * chunks stored that were never acknowledged; the agent replays them after reconnecting, and they must be
 * acknowledged and kept once, not refused (before logs.db, a replayed seq failed the whole batch on the
 * UNIQUE (stage_run_id, seq) constraint and the agent was disconnected, forever).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MasterAssign } from '../../shared/protocol/messages';
import { createRecordBatcher } from '../../master/engine/records/record-batcher';
import { buildsStore } from '../../master/store/builds';
import { createLogsStore } from '../../master/store/logs';
import { engineFixture, jobYaml, type EngineFixture } from './engine-fixtures';

let f: EngineFixture;
beforeEach(() => {
  f = engineFixture();
});
afterEach(() => f.cleanup());

const turn = () => new Promise((r) => setImmediate(r));

describe('record batcher over logs.db', () => {
  it('acknowledges and keeps once a chunk stored before a crash that never reached the control tables', async () => {
    const job = f.addJob(jobYaml('replay', [['a', 'ci']]));
    const agent = f.connect('ci-1', 'ci');
    f.trigger(job);
    f.dispatch();
    const assign = agent.sent.find((m): m is MasterAssign => m.type === 'master:assign')!;
    const { stageRunId, epoch } = assign;
    // The logs transaction of a batch committed, the control one did not (master killed in between).
    createLogsStore(f.db).storeChunks([{ stageRunId, seq: 1, offset: 0, data: Buffer.from('first line\n') }], Date.now());
    expect(buildsStore(f.db).recordState(stageRunId)?.last_seq).toBe(0);

    const records = createRecordBatcher(f.core);
    let closed = false;
    agent.close = () => {
      closed = true;
    };
    // The agent got no ack for seq 1: it replays it, then goes on.
    records.addLog(agent, { stageRunId, epoch, seq: 1, offset: 0, data: Buffer.from('first line\n') });
    records.addLog(agent, { stageRunId, epoch, seq: 2, offset: 11, data: Buffer.from('second line\n') });
    await turn();
    expect(closed).toBe(false);
    expect(agent.sent.filter((m) => m.type === 'master:ack').at(-1)).toMatchObject({ stageRunId, seq: 2 });
    expect(createLogsStore(f.db).read(stageRunId, 0).map((c) => c.data.toString())).toEqual(['first line\n', 'second line\n']);
    expect(buildsStore(f.db).recordState(stageRunId)).toMatchObject({ last_seq: 2, log_bytes: 23 });
  });
});
