/**
 * The scan kind's conformance fixture: the built-in in-process scanners over an empty workspace. The agent's
 * scan kind is the built-in scan schema over ScannerKinds.anyKind(): it cannot know which plugin scanners the
 * master has enabled, so it checks tools against the scanners it runs when the step runs, and each plugin
 * scanner checks its own settings; everything else is the schema the master validates job files with.
 */
import { scanExecutor } from '../../../agent/executors/scan';
import { builtinStepKinds, ScannerKinds } from '../../../shared/job';
import type { KindFixture } from '../step-executor.contract';

export const scanFixture: KindFixture = {
  executor: scanExecutor,
  kinds: () => builtinStepKinds(ScannerKinds.anyKind()),
  good: async () => ({ config: { tools: ['secrets', 'dockerfile'] } }),
  invalid: { config: { tools: ['secrets'], path: '../elsewhere' }, field: /path/ },
};
