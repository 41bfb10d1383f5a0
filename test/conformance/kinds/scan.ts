/** The scan kind's conformance fixture: the built-in in-process scanners over an empty workspace. */
import { scanExecutor } from '../../../agent/executors/scan';
import type { KindFixture } from '../step-executor.contract';

export const scanFixture: KindFixture = {
  executor: scanExecutor,
  good: async () => ({ config: { tools: ['secrets', 'dockerfile'] } }),
  invalid: { config: { tools: ['secrets'], path: '../elsewhere' }, field: /path/ },
};
