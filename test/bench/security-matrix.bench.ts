/**
 * security_matrix_checks: route x caller pairs the security matrix checked (test/helpers/security-matrix.ts,
 * every HTTP route of the master's route table and every client stream message type, against 8 kinds of
 * caller). security_matrix_failures must be 0; the bench fails otherwise.
 */
import { reportBench } from '../helpers/bench';
import { runSecurityMatrix } from '../helpers/security-matrix';

const t0 = Date.now();
const result = await runSecurityMatrix((line) => process.stderr.write(`${line}\n`));
reportBench({
  security_matrix_checks: result.checks.length,
  security_matrix_routes: result.routes.length,
  security_matrix_failures: result.failures.length,
  security_matrix_seconds: Math.round((Date.now() - t0) / 100) / 10,
});
process.exit(result.failures.length ? 1 : 0);
