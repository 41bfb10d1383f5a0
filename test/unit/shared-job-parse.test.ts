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
    expect(job.triggers).toEqual({ cron: ['0 3 * * *'], timezone: 'Europe/Paris', push: null, requests: null, poll: undefined });
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

describe('parseJobYaml: repositories and Git triggers', () => {
  const gitJob = `name: web
team: shop
repo: { url: "git@git.example:shop/web.git", credentials: GIT_KEY, depth: 5 }
triggers:
  push: { branches: [main, "release/*"], paths: ["src/**"] }
  requests: true
  poll: "*/5 * * * *"
stages:
  - name: build
    environment: ci
    steps: [ { sh: make } ]
  - name: docs
    environment: ci
    checkout: false
    steps: [ { sh: ls } ]
`;

  it('adds an implicit checkout step unless the stage opts out', () => {
    const job = parseJobYaml(gitJob, 'jobs/web.yml');
    expect(job.repo).toMatchObject({ url: 'git@git.example:shop/web.git', branch: 'main', depth: 5, submodules: false, webhookSecret: 'WEBHOOK_SECRET' });
    expect(job.stages[0].steps.map((s) => s.kind)).toEqual(['checkout', 'shell']);
    expect(job.stages[1].steps.map((s) => s.kind)).toEqual(['shell']);
    expect(job.triggers.push).toEqual({ branches: ['main', 'release/*'], tags: false, paths: ['src/**'] });
    expect(job.triggers.requests).toEqual({});
    expect(job.triggers.poll).toBe('*/5 * * * *');
  });

  it('refuses URLs and branches that could inject into git', () => {
    const ext = issuesOf(gitJob.replace('"git@git.example:shop/web.git"', '"ext::sh -c touch% /tmp/x"'));
    expect(ext[0]).toMatchObject({ line: 3, field: 'repo.url' });
    expect(ext[0].message).toMatch(/remote helper transport/);
    const opt = issuesOf(gitJob.replace('depth: 5', 'depth: 5, branch: "--upload-pack=touch"'));
    expect(opt[0].field).toBe('repo.branch');
    expect(opt[0].message).toMatch(/starts with '-'/);
  });

  it('needs a repo for Git triggers and checkout steps', () => {
    const noRepo = gitJob.replace(/^repo:.*\n/m, '');
    const issues = issuesOf(noRepo);
    expect(issues.map((i) => i.field)).toEqual(['triggers.push', 'triggers.requests', 'triggers.poll']);
  });
});

describe('parameter values are bounded (issue 6)', () => {
  it('refuses a default or a choice over the bound a trigger value has, naming the field', () => {
    const big = 'x'.repeat(9000);
    const withParam = (p: string) => `name: p\nteam: t\nparams:\n  - ${p}\nstages:\n  - name: b\n    environment: ci\n    steps: [ { sh: env } ]\n`;
    expect(issuesOf(withParam(`{ name: BIG, default: ${big} }`))[0]).toMatchObject({ field: 'params[0].default', message: expect.stringMatching(/at most 8192 bytes/) });
    expect(issuesOf(withParam(`{ name: BIG, choices: [a, ${big}] }`))[0]).toMatchObject({ field: 'params[0].choices[1]' });
    expect(() => parseJobYaml(withParam(`{ name: OK, default: ${'y'.repeat(8192)} }`), 'jobs/x.yml')).not.toThrow();
  });
});
