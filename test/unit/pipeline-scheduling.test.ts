/**
 * Capability and step-kind matching: planDispatch never places a stage on an agent lacking a kind or capability
 * it needs; waitingReason names the first need no connected agent meets; the dispatcher over SQLite leaves such
 * a stage queued and assigns it once a capable agent connects, with earlier stages' outputs in master:assign.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MasterAssign } from '../../shared/protocol/messages';
import { finishStage, type StageRunRow } from '../../master/engine/builds/transitions';
import { Effects } from '../../master/engine/core';
import { planDispatch, type AgentSlots, type QueuedRun } from '../../master/engine/scheduler/plan';
import { waitingReason } from '../../master/engine/scheduler/waiting';
import { engineFixture, type EngineFixture } from './engine-fixtures';

describe('planDispatch with kinds and capabilities', () => {
  const run = (capabilities: string[], kinds = ['shell']): QueuedRun => ({ id: 1, jobId: 1, environment: 'pre', labels: [], kinds, capabilities, queuedAt: 1 });
  const agent = (agentId: number, capabilities: string[], kinds = ['shell', 'checkout']): AgentSlots => ({ agentId, environment: 'pre', labels: [], kinds, capabilities, free: 4 });

  it('places a stage only on an agent with every capability it needs', () => {
    expect(planDispatch([run(['docker'])], [agent(1, [])], new Map(), () => 1)).toEqual([]);
    expect(planDispatch([run(['docker'])], [agent(1, []), agent(2, ['docker'])], new Map(), () => 1)).toEqual([{ stageRunId: 1, jobId: 1, agentId: 2 }]);
    expect(planDispatch([run(['docker', 'etcd'])], [agent(1, ['docker'])], new Map(), () => 1)).toEqual([]);
  });

  it('places a stage only on an agent with an executor for every step kind of it', () => {
    expect(planDispatch([run([], ['shell', 'image'])], [agent(1, [], ['shell'])], new Map(), () => 1)).toEqual([]);
    expect(planDispatch([run([], ['shell', 'image'])], [agent(1, [], ['shell']), agent(2, [], ['shell', 'image'])], new Map(), () => 1)).toHaveLength(1);
  });
});

describe('waitingReason', () => {
  const need = { environment: 'pre', labels: ['eu'], kinds: ['shell'], capabilities: ['docker'] };
  const a = (o: Partial<AgentSlots> = {}) => ({ agentId: 1, environment: 'pre', labels: ['eu'], kinds: ['shell'], capabilities: ['docker'], free: 1, ...o });

  it('names the first need no connected agent meets', () => {
    expect(waitingReason(need, [])).toBe('waiting: no agent of environment pre connected');
    expect(waitingReason(need, [a({ environment: 'ci' })])).toBe('waiting: no agent of environment pre connected');
    expect(waitingReason(need, [a({ labels: [] })])).toBe('waiting: no agent of environment pre with label eu');
    expect(waitingReason(need, [a({ kinds: ['checkout'] })])).toBe('waiting: no agent of environment pre with step kind shell');
    expect(waitingReason(need, [a({ capabilities: [] })])).toBe('waiting: no agent of environment pre with capability docker');
    expect(waitingReason(need, [a({ free: 0 }), a({ agentId: 2, free: 0 })])).toBe('waiting: all 2 agents of environment pre that can run it are busy');
  });
});

describe('dispatcher with capabilities (SQLite)', () => {
  let f: EngineFixture;
  beforeEach(() => {
    f = engineFixture();
  });
  afterEach(() => f.cleanup());

  it('leaves a docker stage queued until a capable agent connects, then hands it the earlier outputs', () => {
    const plain = f.connect('plain', 'pre');
    const job = f.addJob(`name: promote
team: shop
stages:
  - name: build
    environment: pre
    steps:
      - id: image
        sh: { run: echo digest=d1 >> "$SLIPWAY_OUTPUT", outputs: [digest] }
  - name: deploy
    environment: pre
    capabilities: [docker]
    steps:
      - sh: echo \${{ steps.image.outputs.digest }}
`);
    const buildId = f.trigger(job);
    f.dispatch();
    const first = plain.sent.find((m): m is MasterAssign => m.type === 'master:assign')!;
    expect(first.stage.name).toBe('build');
    expect(first.outputs).toEqual({});
    // What the record batcher does with the step's outputs and the stage's end.
    f.core.outputs.put({ buildId, stageRunId: first.stageRunId, stageIndex: 0, stepIndex: 0, stepId: 'image' }, { digest: 'd1' }, Date.now());
    const row = f.db
      .prepare<[number], StageRunRow>('SELECT id, build_id, stage_index, name, environment, attempt, status, agent_id, lease_epoch, last_seq FROM stage_runs WHERE id = ?')
      .get(first.stageRunId)!;
    f.db.transaction(() => finishStage(f.core, new Effects(), row, 'success', null, Date.now()))();
    expect(f.dispatch()).toBe(0);
    expect(plain.sent.filter((m) => m.type === 'master:assign')).toHaveLength(1);
    const docker = f.connect('docker', 'pre', { capabilities: ['docker'] });
    expect(f.dispatch()).toBe(1);
    const second = docker.sent.find((m): m is MasterAssign => m.type === 'master:assign')!;
    expect(second.stage.name).toBe('deploy');
    expect(second.outputs).toEqual({ image: { digest: 'd1' } });
  });
});
