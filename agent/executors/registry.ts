/**
 * Step executors by kind. Built-ins register through the same call as third-party plugins will, so the
 * runner never special-cases a kind.
 */
import type { ExecutorInfo } from '../../shared/protocol';
import type { StepExecutor } from './types';
import { checkoutExecutor } from './checkout';
import { deployExecutor } from './deploy';
import { imageExecutor } from './image';
import { scanExecutor } from './scan';
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
  return new ExecutorRegistry().register(shellExecutor).register(checkoutExecutor).register(imageExecutor).register(deployExecutor).register(scanExecutor);
}

/**
 * Validates the agent file's `executors` section against the registered executors' settings schemas; throws
 * naming the file and field (`agent.yml: executors.shell.x: ...`). Returns the parsed settings by kind.
 */
export function executorSettings(registry: ExecutorRegistry, section: Record<string, Record<string, unknown>>, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [kind, raw] of Object.entries(section)) {
    const ex = registry.get(kind);
    if (!ex) throw new Error(`${file}: executors.${kind}: no step executor of that kind on this agent (has: ${registry.list().map((e) => e.kind).join(', ')})`);
    if (!ex.settings) {
      const keys = Object.keys(raw);
      if (keys.length) throw new Error(`${file}: executors.${kind}.${keys[0]}: the ${kind} executor takes no settings`);
      continue;
    }
    const parsed = ex.settings.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new Error(`${file}: executors.${kind}${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message}`);
    }
    out[kind] = parsed.data;
  }
  return out;
}
