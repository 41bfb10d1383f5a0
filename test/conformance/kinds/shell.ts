/** The shell kind's conformance fixture: it runs a process, so it also passes the process contract. */
import { shellExecutor } from '../../../agent/executors/shell';
import type { KindFixture } from '../step-executor.contract';

export const shellFixture: KindFixture = {
  executor: shellExecutor,
  good: async () => ({ config: { run: 'echo hello' } }),
  invalid: { config: { run: 'true', shell: '' }, field: /shell/ },
  process: {
    exit: (code) => ({ run: `echo before; exit ${code}` }),
    printEnv: (name) => ({ run: `printf '%s\\n' "$${name}"` }),
    grandchild: (pidFile, ignoreTerm) => ({ run: `${ignoreTerm ? "trap '' TERM; " : ''}sleep 30 & echo $! > ${pidFile}; wait` }),
    read: (path) => ({ run: `cat ${path}` }),
    unstartable: () => ({ run: 'true', shell: '/nonexistent/sh' }),
  },
};
