/**
 * `npm run faults`: the full fault matrix (master default timings, 40 s and 60 s agent freezes), printed as
 * a table; the detail of every case (per attempt) goes to fault-results.json at the repository root.
 * `npm run faults -- --short` runs the short form instead. Exit code 1 when a case fails.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/process';
import { FULL, SHORT } from './cases';
import { figures, runMatrix, table } from './matrix';

const profile = process.argv.includes('--short') ? SHORT : FULL;
const t0 = Date.now();
console.log(`fault matrix (${profile.name} form): heartbeat ${profile.heartbeatMs} ms, lease ${profile.leaseTtlMs} ms, ${profile.concurrency} cases at once`);
const results = await runMatrix(profile, undefined, (r) => console.log(`  ${r.passed ? 'PASS' : 'FAIL'} ${r.case} (${(r.timeToFinalMs / 1000).toFixed(1)} s)`));
console.log(`\n${table(results)}\n`);
const f = figures(results);
for (const [k, v] of Object.entries(f)) console.log(`${k}: ${v}`);
console.log(`wall time: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
writeFileSync(join(REPO_ROOT, 'fault-results.json'), `${JSON.stringify({ profile, figures: f, results, generated_at: new Date().toISOString() }, null, 2)}\n`);
process.exit(f.fault_cases_passed === f.fault_cases ? 0 : 1);
