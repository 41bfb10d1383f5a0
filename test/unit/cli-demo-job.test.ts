import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJobYaml } from '../../shared/job';
import { REPO_ROOT } from '../helpers/process';

describe('job files shipped in jobs/', () => {
  it('the demo job builds three image layers on ci and deploys the app digest on pre', () => {
    const job = parseJobYaml(readFileSync(join(REPO_ROOT, 'jobs', 'demo.yml'), 'utf8'), 'jobs/demo.yml');
    expect(job.team).toBe('demo');
    expect(job.stages.map((s) => [s.name, s.environment])).toEqual([
      ['build', 'ci'],
      ['deploy-pre', 'pre'],
      ['deploy-prod', 'prod'],
    ]);
    expect(job.stages[2].approval?.teams).toEqual(['demo']);
    expect(job.stages[2].steps[0].config.image).toBe('${{ steps.image.outputs.reference }}');
    expect(job.stages[0].steps.map((s) => s.kind)).toEqual(['shell', 'image', 'shell', 'image', 'shell', 'image']);
    expect(job.stages[0].capabilities).toEqual(['docker']);
    expect(job.stages[1].steps.map((s) => [s.kind, s.config.image])).toEqual([['deploy', '${{ steps.image.outputs.reference }}']]);
  });

  it('every example validates', () => {
    const dir = join(REPO_ROOT, 'jobs', 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => parseJobYaml(readFileSync(join(dir, f), 'utf8'), f)).not.toThrow();
  });
});
