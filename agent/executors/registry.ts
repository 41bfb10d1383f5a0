/**
 * Step executors by kind. Built-ins register through the same call as third-party plugins will, so the
 * runner never special-cases a kind.
 */
import type { ExecutorInfo } from '../../shared/protocol';
import type { StepExecutor } from './types';
import { checkoutExecutor } from './checkout';
import { shellExecutor } from './shell';

export class ExecutorRegistry {
  private readonly byKind = new Map<string, StepExecutor>();

  /** Throws when the kind is already registered (two plugins must not silently shadow each other). */
  register(executor: StepExecutor): this {
    if (!executor.kind || !executor.version) throw new Error('a step executor needs a kind and a version');
    if (this.byKind.has(executor.kind)) throw new Error(`step executor '${executor.kind}' is registered twice`);
    this.byKind.set(executor.kind, executor);
    return this;
  }

  get(kind: string): StepExecutor | undefined {
    return this.byKind.get(kind);
  }

  /** What agent:hello reports. */
  list(): ExecutorInfo[] {
    return [...this.byKind.values()].map((e) => ({ kind: e.kind, version: e.version }));
  }
}

/** A registry holding the built-in executors. */
export function builtinExecutors(): ExecutorRegistry {
  return new ExecutorRegistry().register(shellExecutor).register(checkoutExecutor);
}
