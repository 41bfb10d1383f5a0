/**
 * imagePushIssues (master/jobs/push-grants.ts): which image steps push outside the team's prefixes, named by the
 * step as the file writes it (an implicit checkout step is not in the file) with its line.
 */
import { describe, expect, it } from 'vitest';
import { imagePushIssues } from '../../master/jobs/push-grants';
import { parseJobYaml } from '../../shared/job';

const yaml = `name: web
team: shop
repo: { url: http://git.example/shop/web.git }
stages:
  - name: build
    environment: ci
    steps:
      - image: { name: ops/web, from: base/node:20 }
      - image: { name: shop/web, from: base/node:20, registry: other }
      - image: { name: ops/cache, dockerfile: Dockerfile, push: false }
  - name: later
    environment: ci
    steps:
      - compile: make
      - image:
          name: ops/later
          dockerfile: Dockerfile
`;

describe('image pushes checked against registry grants', () => {
  const config = parseJobYaml(yaml, 'jobs/web.yml');

  it('names each refused step as written, with its line, skipping push: false and other registries', () => {
    const grants = [
      { registry: 'local', prefixes: ['shop/'] },
      { registry: 'other', prefixes: ['*'] },
    ];
    // Two registries granted: a step without registry: is the agent's to refuse (it cannot pick one).
    expect(imagePushIssues(config, yaml, 'jobs/web.yml', grants)).toEqual([]);
    const issues = imagePushIssues(config, yaml, 'jobs/web.yml', [grants[0]]);
    expect(issues.map((i) => [i.field, i.line, i.column])).toEqual([
      ['stages[0].steps[0].image.name', 8, 24],
      ['stages[1].steps[1].image.name', 16, 17],
    ]);
    expect(issues[0].message).toBe(
      "team 'shop' may not push 'ops/web' to registry 'local': its repositories there are shop/ (an admin sets them with slipway registry add --prefixes; push: false builds without pushing)",
    );
  });

  it('checks only the stages asked for (dispatch checks the stage it leases)', () => {
    const issues = imagePushIssues(config, yaml, 'job.yml', [{ registry: 'local', prefixes: ['shop/'] }], [1]);
    expect(issues.map((i) => i.field)).toEqual(['stages[1].steps[1].image.name']);
    expect(imagePushIssues(config, yaml, 'job.yml', [{ registry: 'local', prefixes: ['shop/', 'ops/'] }])).toEqual([]);
  });
});
