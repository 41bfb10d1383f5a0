/**
 * The StepExecutor conformance suite for plugin kinds (kinds/plugins.ts): the sample plugin and a test plugin
 * that runs a command pass the same generic contract as the built-ins, the latter the process contract too.
 * Plugin code runs as the agent runs it: in a node child, as the build user when the suite runs as root.
 */
import { afterAll, beforeAll } from 'vitest';
import { Harness } from './executor-harness';
import { pluginFixtures } from './kinds/plugins';
import { executorContract } from './step-executor.contract';

const h = new Harness();
beforeAll(() => h.open());
afterAll(() => h.close());

for (const f of await pluginFixtures(h.workDir)) executorContract(h, f);
