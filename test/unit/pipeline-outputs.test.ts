/**
 * Step outputs and references in the shared job schema: $SLIPWAY_OUTPUT parsing, size and type limits, the
 * validation of ${{ steps.ID.outputs.KEY }} at apply time (file:line:col), substitution, JSON Schema export,
 * and explicit registration of step kinds.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import {
  builtinStepKinds,
  MAX_OUTPUT_BYTES,
  outputsProblem,
  parseJobYaml,
  parseOutputFile,
  shellKind,
  StepKinds,
  substitute,
} from '../../shared/job';

function issuesOf(yaml: string) {
  try {
    parseJobYaml(yaml, 'jobs/x.yml');
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  return [];
}

const job = (steps: string) => `name: j
team: t
stages:
  - name: build
    environment: ci
    steps:
      - id: image
        sh: { run: make, outputs: [digest, size] }
  - name: deploy
    environment: pre
    steps:
${steps}`;

describe('$SLIPWAY_OUTPUT', () => {
  it('reads key=value lines, heredoc blocks and JSON', () => {
    expect(parseOutputFile('a=1\nb=x=y\n\nc<<EOF\nl1\nl2\nEOF\na=2\n')).toEqual({ a: '2', b: 'x=y', c: 'l1\nl2' });
    expect(parseOutputFile('{"n": 3, "list": ["a", "b"]}')).toEqual({ n: 3, list: ['a', 'b'] });
    expect(parseOutputFile('')).toEqual({});
  });

  it('names the line of a bad entry', () => {
    expect(() => parseOutputFile('a=1\nnot a line\n')).toThrow(/line 2: expected key=value/);
    expect(() => parseOutputFile('a<<EOF\nnever closed\n')).toThrow(/line 1: 'a<<EOF' has no closing 'EOF'/);
    expect(() => parseOutputFile('{oops')).toThrow(/looks like JSON but does not parse/);
  });

  it('limits names, types and size, and applies the kind schema', () => {
    expect(outputsProblem({ ok: 'x' })).toBeNull();
    expect(outputsProblem({ 'bad name': 'x' })).toMatch(/output names/);
    expect(outputsProblem({ nested: { a: 1 } })).toBeTruthy();
    expect(outputsProblem({ big: 'x'.repeat(MAX_OUTPUT_BYTES) })).toMatch(/over the limit/);
    expect(outputsProblem({ n: 3 }, shellKind.outputs)).toBeTruthy();
  });
});

describe('references', () => {
  it('accepts a reference to an earlier step output of another stage or the same stage', () => {
    const cfg = parseJobYaml(job(`      - id: same
        sh: { run: 'echo \${{ steps.image.outputs.digest }}', outputs: [ok] }
      - sh: echo \${{ steps.same.outputs.ok }}
        env: { SIZE: '\${{ steps.image.outputs.size }}' }
`));
    expect(cfg.stages[1].steps[0].id).toBe('same');
  });

  it('refuses a missing output, an unknown or later step and a reused id, with file:line:col', () => {
    expect(issuesOf(job(`      - sh: echo \${{ steps.image.outputs.tag }}\n`))).toEqual([
      { file: 'jobs/x.yml', line: 12, column: 18, field: 'stages[1].steps[0].sh', message: expect.stringMatching(/publishes no output 'tag' \(it has: digest, size\)/) },
    ]);
    expect(issuesOf(job(`      - sh: echo \${{ steps.later.outputs.x }}\n      - id: later\n        sh: { run: x, outputs: [x] }\n`))[0].message).toMatch(
      /no step with id 'later' runs before this step/,
    );
    expect(issuesOf(job(`      - id: image\n        sh: make\n`))[0]).toMatchObject({ field: 'stages[1].steps[0].id', message: expect.stringMatching(/used twice/) });
    expect(issuesOf(job(`      - sh: echo \${{ secrets.X }}\n`))[0].message).toMatch(/not an output reference/);
  });

  it('refuses references in stage env, where nothing substitutes them', () => {
    const yaml = job("      - sh: 'true'\n").replace('    environment: pre\n', "    environment: pre\n    env: { D: '${{ steps.image.outputs.digest }}' }\n");
    expect(issuesOf(yaml)[0].message).toMatch(/allowed in step values and step env only/);
  });

  it('substitutes whole values keeping their type, and inside strings', () => {
    const outputs = { image: { digest: 'sha256:1', tags: ['a', 'b'] } };
    expect(substitute({ run: 'deploy ${{ steps.image.outputs.digest }}', tags: '${{ steps.image.outputs.tags }}' }, outputs)).toEqual({
      run: 'deploy sha256:1',
      tags: ['a', 'b'],
    });
    expect(() => substitute('${{ steps.image.outputs.nope }}', outputs)).toThrow(/did not publish output 'nope'/);
  });
});

describe('step kinds', () => {
  it('are registered explicitly; a kind or alias cannot be registered twice', () => {
    const kinds = new StepKinds().register(shellKind);
    expect(kinds.keys()).toEqual(['compile', 'run', 'sh', 'shell', 'test']);
    expect(() => kinds.register(shellKind)).toThrow(/registered twice/);
    expect(builtinStepKinds().list().map((k) => k.kind)).toEqual(['shell', 'checkout', 'image', 'deploy', 'scan']);
  });

  it('export JSON Schema for every step key', () => {
    const schema = builtinStepKinds().jsonSchema() as Record<string, { anyOf?: unknown[] }>;
    expect(Object.keys(schema)).toEqual(['checkout', 'compile', 'deploy', 'image', 'run', 'scan', 'sh', 'shell', 'test']);
    expect(JSON.stringify(schema.sh)).toContain('"junit"');
    expect(JSON.stringify(schema.checkout)).toContain('"depth"');
  });

  it('declare reports and capabilities of a stage from its steps', () => {
    const cfg = parseJobYaml(`name: j
team: t
stages:
  - name: test
    environment: ci
    capabilities: [docker]
    steps:
      - test: { run: npm test, junit: { path: reports/junit.xml, failStep: true } }
`);
    expect(cfg.stages[0].steps[0].reports).toEqual([{ format: 'junit', path: 'reports/junit.xml', failStep: true }]);
    expect(cfg.stages[0].capabilities).toEqual(['docker']);
    expect(cfg.stages[0].kinds).toEqual(['shell']);
  });
});
