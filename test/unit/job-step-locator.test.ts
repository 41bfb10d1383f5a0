/**
 * stepLocator (shared/job/step-locator.ts): effective step indexes of a parsed job mapped to the steps its file
 * writes (an implicit checkout step comes first only when the job has a repo and the stage writes no checkout),
 * with the line and column of a field.
 */
import { describe, expect, it } from 'vitest';
import { parseJobYaml, stepLocator } from '../../shared/job';

const yaml = `name: web
team: shop
repo: { url: http://git.example/shop/web.git }
stages:
  - name: implicit
    environment: ci
    steps:
      - compile: make
      - deploy: { app: web, composeInline: "services: { web: { image: x } }" }
  - name: no-checkout
    environment: ci
    checkout: false
    steps:
      - compile: make
  - name: own-checkout
    environment: ci
    steps:
      - compile: echo first
      - checkout: {}
      - deploy:
          composeInline: "services: { web: { image: x } }"
`;

describe('stepLocator', () => {
  const config = parseJobYaml(yaml, 'jobs/web.yml');
  const loc = stepLocator(config, yaml, 'jobs/web.yml');

  it('maps effective indexes to written ones in each kind of stage', () => {
    expect(config.stages.map((s) => s.steps.map((st) => st.kind))).toEqual([
      ['checkout', 'shell', 'deploy'],
      ['shell'],
      ['shell', 'checkout', 'deploy'],
    ]);
    expect([0, 1, 2].map((i) => loc.writtenIndex(0, i))).toEqual([undefined, 0, 1]);
    expect(loc.writtenIndex(1, 0)).toBe(0);
    expect([0, 1, 2].map((i) => loc.writtenIndex(2, i))).toEqual([0, 1, 2]);
  });

  it('gives the line and column of the field, or of its nearest written parent', () => {
    expect(loc.issue(0, 2, ['deploy', 'app'], 'm')).toEqual({ file: 'jobs/web.yml', line: 9, column: 24, field: 'stages[0].steps[1].deploy.app', message: 'm' });
    // `app` is not written (it defaults to the job name): the deploy map it would go in.
    expect(loc.issue(2, 2, ['deploy', 'app'], 'm')).toEqual({ file: 'jobs/web.yml', line: 21, column: 11, field: 'stages[2].steps[2].deploy.app', message: 'm' });
    // The implicit checkout is not in the file: the stage's steps.
    expect(loc.issue(0, 0, ['checkout'], 'm')).toMatchObject({ line: 8, field: 'stages[0].steps' });
  });
});
