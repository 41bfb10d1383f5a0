/** The stage `approval:` field of the job schema: normalised defaults, and errors with file:line:col. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { DEFAULT_APPROVAL_TIMEOUT_MS, parseJobYaml } from '../../shared/job';

const job = (approval: string) => `name: j
team: t
stages:
  - name: prod
    environment: prod
    approval: ${approval}
    steps:
      - sh: echo deploy
`;

function issuesOf(yaml: string): string[] {
  try {
    parseJobYaml(yaml, 'jobs/j.yml');
  } catch (e) {
    if (e instanceof ValidationError) return e.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.field}: ${i.message}`);
    throw e;
  }
  return [];
}

describe('stage approval', () => {
  it('defaults to role developer and a 24 h timeout; roles name the lowest accepted', () => {
    expect(parseJobYaml(job('{ teams: [leads] }')).stages[0].approval).toEqual({ teams: ['leads'], minRole: 'developer', timeoutMs: DEFAULT_APPROVAL_TIMEOUT_MS });
    expect(DEFAULT_APPROVAL_TIMEOUT_MS).toBe(24 * 3600 * 1000);
    expect(parseJobYaml(job('{ teams: [a, b], roles: [maintainer, developer], timeout: 2h }')).stages[0].approval).toEqual({
      teams: ['a', 'b'],
      minRole: 'developer',
      timeoutMs: 2 * 3600 * 1000,
    });
    expect(parseJobYaml(job('{ teams: [a], roles: [maintainer] }')).stages[0].approval?.minRole).toBe('maintainer');
    expect(parseJobYaml(job('{ teams: [a] }').replace('    approval: { teams: [a] }\n', '')).stages[0].approval).toBeUndefined();
  });

  it('names the file, line, column and field of a bad approval', () => {
    expect(issuesOf(job('{ teams: [] }'))).toEqual(['jobs/j.yml:6:24: stages[0].approval.teams: an approval names at least one team']);
    expect(issuesOf(job('{ teams: [leads], timeout: soon }'))).toEqual([
      'jobs/j.yml:6:42: stages[0].approval.timeout: not a duration: "soon" (use e.g. 30s, 10m, 1h30m or seconds)',
    ]);
    expect(issuesOf(job('{ teams: [leads], roles: [boss] }'))[0]).toMatch(/^jobs\/j\.yml:6:41: stages\[0\]\.approval\.roles\[0\]: .*maintainer/);
    expect(issuesOf(job('{ teams: [leads], who: me }'))).toEqual(["jobs/j.yml:6:38: stages[0].approval.who: unknown field 'who'"]);
    expect(issuesOf(job('{ timeout: 1h }'))).toEqual(['jobs/j.yml:6:15: stages[0].approval.teams: a list of the teams whose members may approve, e.g. [shop-leads]']);
  });
});
