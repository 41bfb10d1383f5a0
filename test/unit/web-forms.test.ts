/**
 * The web UI's pure parts behind the job form and the deployments page: editing the YAML text at a path
 * (comments kept, empty values removed, block style for what the form fills), issues by field path, the step
 * kinds' JSON Schema as the form reads it, what runs where and where a digest can be promoted.
 */
import { describe, expect, it } from 'vitest';
import type { BuildDetail, DeploymentInfo } from '../../shared/api';
import { ValidationError } from '../../shared/errors';
import { builtinStepKinds, parseJobYaml } from '../../shared/job';
import { currentDeployments, promoteTargets } from '../../web/src/deployments';
import { addAt, issuesAt, moveUpAt, rawOf, removeAt, setAt } from '../../web/src/job-form/doc';
import { initialValue, variantOf, type JsonSchema } from '../../web/src/job-form/schema';

const JOB = `# the shop's job
name: shop # kept
team: shop
stages:
  - name: build
    environment: ci
    steps:
      - sh: make # build it
`;

describe('editing the job YAML at a path', () => {
  it('sets a value and keeps the comments and layout of the rest', () => {
    const out = setAt(JOB, ['stages', 0, 'environment'], 'pre');
    expect(out).toBe(JOB.replace('environment: ci', 'environment: pre'));
  });

  it('removes a key set to an empty value, creates missing maps, appends to lists', () => {
    let t = setAt(JOB, ['description'], 'Builds the shop.');
    expect(rawOf(t)?.description).toBe('Builds the shop.');
    t = setAt(t, ['description'], '');
    expect(t).toBe(JOB);
    t = setAt(t, ['repo', 'url'], 'https://git.example/shop.git');
    t = addAt(t, ['stages', 0, 'steps'], { deploy: {} });
    t = setAt(t, ['stages', 0, 'steps', 1, 'deploy', 'app'], 'web');
    t = setAt(t, ['stages', 0, 'steps', 1, 'deploy', 'compose'], 'deploy/compose.yml');
    t = addAt(t, ['params'], { name: 'V' });
    expect(rawOf(t)).toMatchObject({ repo: { url: 'https://git.example/shop.git' }, params: [{ name: 'V' }], stages: [{ steps: [{ sh: 'make' }, { deploy: { app: 'web' } }] }] });
    // What the form fills is written in block style, not as a one-line flow map.
    expect(t).toContain('      - deploy:\n          app: web\n');
    expect(removeAt(t, ['stages', 0, 'steps', 1])).not.toContain('deploy');
    expect(parseJobYaml(t).stages[0].steps.map((s) => s.kind)).toEqual(['checkout', 'shell', 'deploy']);
  });

  it('keeps a required key emptied (a name being retyped stays where it is)', () => {
    const out = setAt(JOB, ['name'], '', true);
    expect(out.split('\n')[1]).toBe('name: "" # kept');
    expect(setAt(out, ['name'], 'shop2', true)).toBe(JOB.replace('name: shop', 'name: shop2'));
  });

  it('moves a list item up with its comments; the first item and other paths stay', () => {
    const two = addAt(JOB, ['stages', 0, 'steps'], { sh: 'test' });
    const moved = moveUpAt(two, ['stages', 0, 'steps', 1]);
    expect(rawOf(moved)?.stages).toEqual([{ name: 'build', environment: 'ci', steps: [{ sh: 'test' }, { sh: 'make' }] }]);
    expect(moved).toContain('- sh: make # build it');
    expect(moveUpAt(two, ['stages', 0, 'steps', 0])).toBe(two);
    expect(moveUpAt(two, ['name', 1])).toBe(two);
  });

  it('leaves text whose YAML does not parse alone (the form waits for the YAML view)', () => {
    const broken = 'name: [shop\n';
    expect(rawOf(broken)).toBeNull();
    expect(setAt(broken, ['name'], 'x')).toBe(broken);
  });

  it('finds the shared schema issues of a field by its path', () => {
    let issues: ValidationError['issues'] = [];
    try {
      parseJobYaml(setAt(JOB, ['stages', 0, 'environment'], 'Bad Env'));
    } catch (err) {
      issues = (err as ValidationError).issues;
    }
    expect(issuesAt(issues, ['stages', 0, 'environment'])).toMatchObject([{ field: 'stages[0].environment', line: 6 }]);
    expect(issuesAt(issues, ['stages', 0, 'name'])).toEqual([]);
  });
});

describe("the step kinds' JSON Schema as the form reads it", () => {
  const keys = builtinStepKinds().jsonSchema() as Record<string, JsonSchema>;

  it('picks the union member a value is written in', () => {
    const shell = keys.sh.anyOf!;
    expect(variantOf(shell, 'make')).toBe(0);
    expect(variantOf(shell, { run: 'make' })).toBe(1);
    const checkout = keys.checkout.anyOf!;
    expect(checkout.map((v) => variantOf(checkout, initialValue(v)))).toEqual([0, 1, 2]);
  });

  it('starts a new step of each kind with a value its schema accepts or names what is missing', () => {
    expect(initialValue(keys.sh)).toBe('');
    expect(initialValue(keys.deploy)).toEqual({});
    expect(initialValue(keys.scan)).toBe(true);
    expect(initialValue(keys.checkout)).toBe(true);
    // `scan: true` and `checkout: true` are complete steps.
    const yaml = `name: j\nteam: t\nrepo: { url: https://git.example/x.git }\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - checkout: true\n      - scan: true\n`;
    expect(parseJobYaml(yaml).stages[0].steps.map((s) => s.kind)).toEqual(['checkout', 'scan']);
  });
});

describe('deployments page helpers', () => {
  const dep = (id: number, app: string, environment: string, extra: Partial<DeploymentInfo> = {}): DeploymentInfo => ({
    id, app, environment, job: 'j', team: 't', buildId: id, buildNumber: id, stage: environment, image: `img:${id}`, digest: null, replicas: 1,
    instances: [], compose: '', triggeredBy: 'u', approvedBy: null, failure: null, createdAt: id, ...extra,
  });

  it('what runs where: the newest successful deployment per app and environment', () => {
    const list = [dep(5, 'web', 'pre', { failure: 'health check failed' }), dep(4, 'web', 'prod'), dep(3, 'web', 'pre'), dep(2, 'api', 'pre'), dep(1, 'web', 'pre')];
    expect(currentDeployments(list).map((d) => d.id)).toEqual([2, 3, 4]);
  });

  it('promotes to the later stages of the deploying build in other environments', () => {
    const stage = (index: number, name: string, environment: string) => ({ index, name, environment }) as BuildDetail['stages'][number];
    const build = { stages: [stage(0, 'build', 'ci'), stage(1, 'pre', 'pre'), stage(2, 'prod', 'prod'), stage(2, 'prod', 'prod'), stage(3, 'smoke', 'pre')] } as BuildDetail;
    expect(promoteTargets(dep(1, 'web', 'pre'), build)).toEqual([{ stage: 'prod', environment: 'prod' }]);
    expect(promoteTargets(dep(1, 'web', 'prod', { stage: 'prod' }), build)).toEqual([{ stage: 'smoke', environment: 'pre' }]);
    expect(promoteTargets(dep(1, 'web', 'pre'), undefined)).toEqual([]);
  });
});
