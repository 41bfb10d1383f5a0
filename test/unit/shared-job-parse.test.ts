import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { parseJobYaml } from '../../shared/job';

const valid = `name: shop-web
team: shop
params:
  - { name: GREETING, default: hello }
env: { A: 1 }
secrets: [TOKEN]
triggers: { cron: "0 3 * * *", timezone: Europe/Paris }
timeout: 1h
stages:
  - name: build
    environment: ci
    labels: [linux]
    artifacts: [dist/**]
    steps:
      - compile: make
      - test: { run: npm test, junit: reports/junit.xml }
      - name: custom
        sh: echo hi
        timeout: 30s
        env: { B: two }
  - name: pre
    environment: pre
    retry: { lost: 2 }
    steps: [ { sh: ./deploy.sh } ]
`;

function issuesOf(text: string) {
  try {
    parseJobYaml(text, 'jobs/x.yml');
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).issues;
  }
  throw new Error('expected a validation error');
}

describe('parseJobYaml', () => {
  it('normalises a valid job', () => {
    const job = parseJobYaml(valid, 'jobs/shop.yml');
    expect(job.name).toBe('shop-web');
    expect(job.env).toEqual({ A: '1' });
    expect(job.timeoutMs).toBe(3_600_000);
    expect(job.triggers).toEqual({ cron: ['0 3 * * *'], timezone: 'Europe/Paris' });
    expect(job.stages[0].steps.map((s) => [s.name, s.kind])).toEqual([
      ['compile', 'shell'],
      ['test', 'shell'],
      ['custom', 'shell'],
    ]);
    expect(job.stages[0].steps[1].config).toEqual({ run: 'npm test', junit: 'reports/junit.xml' });
    expect(job.stages[0].steps[2]).toMatchObject({ timeoutMs: 30_000, env: { B: 'two' } });
    expect(job.stages[1].retryLost).toBe(2);
    expect(job.stages[0].retryLost).toBe(0);
  });

  it('names file, line and field of a bad duration', () => {
    const issues = issuesOf(valid.replace('timeout: 30s', 'timeout: soon'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'jobs/x.yml', line: 19, field: 'stages[0].steps[2].timeout' });
    expect(issues[0].message).toMatch(/not a duration/);
  });

  it('points an unknown step kind at its key', () => {
    const issues = issuesOf(valid.replace('- compile: make', '- bogus: make'));
    expect(issues[0]).toMatchObject({ line: 15, field: 'stages[0].steps[0].bogus' });
    expect(issues[0].message).toMatch(/unknown step kind 'bogus'/);
  });

  it('reports unknown fields, missing fields and duplicate stages', () => {
    expect(issuesOf(valid.replace('team: shop', 'team: shop\ncolour: red'))[0]).toMatchObject({ line: 3, field: 'colour' });
    expect(issuesOf(valid.replace('team: shop\n', ''))[0].field).toBe('team');
    expect(issuesOf(valid.replace('name: pre', 'name: build'))[0]).toMatchObject({ field: 'stages[1].name', line: 21 });
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = issuesOf('name: x\nteam: [unclosed\nstages: []\n');
    expect(issues[0].file).toBe('jobs/x.yml');
    expect(issues[0].line).toBeGreaterThan(0);
    expect(issues[0].field).toBe('(yaml)');
  });

  it('refuses a step with two kinds and a non-map file', () => {
    expect(issuesOf(valid.replace('- compile: make', '- { compile: make, sh: ls }'))[0].message).toMatch(/exactly one step kind/);
    expect(issuesOf('- just\n- a list\n')[0].message).toMatch(/YAML map/);
  });
});
