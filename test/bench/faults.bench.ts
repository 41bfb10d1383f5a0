/**
 * Fault figures for bench-results.json: runs the full fault matrix (test/faults/, the same run as
 * `npm run faults`) and reports fault_cases, fault_cases_passed, fault_lines_lost, fault_lines_duplicated
 * and fault_builds_stuck. Targets: every case passes; 0 lost, 0 duplicated, 0 stuck.
 * About three minutes (40 s and 60 s freezes, three cases at once): npm run bench -- faults.
 */
import { reportBench } from '../helpers/bench';
import { FULL } from '../faults/cases';
import { figures, runMatrix, table } from '../faults/matrix';

const t0 = Date.now();
const results = await runMatrix(FULL, undefined, (r) => process.stderr.write(`  ${r.passed ? 'PASS' : 'FAIL'} ${r.case}\n`));
process.stderr.write(`${table(results)}\nfull fault matrix: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
const f = figures(results);
reportBench(f);
process.exit(f.fault_cases_passed === f.fault_cases ? 0 : 1);
