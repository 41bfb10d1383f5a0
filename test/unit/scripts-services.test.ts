/**
 * scripts/services.sh: the stop commands of the services a script started run newest first, all of them,
 * even when one of them loops with its own variable (the dockerd stop command waits in a loop; once it reused
 * the runner's loop variable, so with `set -u` CI ended in "STOP_COMMANDS[$i]: unbound variable" and exit 1
 * after every test had passed).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/process';

it('runs every stop command, newest first, whatever variables they use', () => {
  const script = `set -euo pipefail
source ${JSON.stringify(join(REPO_ROOT, 'scripts', 'lib.sh'))}
source ${JSON.stringify(join(REPO_ROOT, 'scripts', 'services.sh'))}
STOP_COMMANDS=()
STOP_COMMANDS+=("echo first")
STOP_COMMANDS+=("for i in 1 2 3 4 5 6 7 8 9; do :; done; echo second")
STOP_COMMANDS+=("for _ in 1 2; do :; done; echo third")
run_stop_commands
echo end`;
  const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
  expect(out).toBe('third\nsecond\nfirst\nend\n');
});
