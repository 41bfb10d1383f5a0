import { describe, expect, it } from 'vitest';
import { SecretMasker } from '../../shared/mask';

function run(secrets: string[], pieces: string[]): string {
  const m = new SecretMasker(secrets);
  return Buffer.concat([...pieces.map((p) => m.push(Buffer.from(p))), m.flush()]).toString();
}

describe('SecretMasker', () => {
  it('masks whole secrets and passes other bytes through', () => {
    expect(run(['hunter2'], ['pw=hunter2 ok\n'])).toBe('pw=*** ok\n');
  });

  it('masks a secret split across chunks, at every split point', () => {
    const text = 'before s3cr3t-value after s3cr3t-value\n';
    for (let i = 1; i < text.length; i++) {
      for (let j = i + 1; j < text.length; j++) {
        expect(run(['s3cr3t-value'], [text.slice(0, i), text.slice(i, j), text.slice(j)])).toBe('before *** after ***\n');
      }
    }
  });

  it('prefers the longest overlapping secret and masks lines of multi-line secrets', () => {
    expect(run(['abc', 'abcdef'], ['xabcdefy abc'])).toBe('x***y ***');
    expect(run(['line-one\nline-two'], ['a line-two b'])).toBe('a *** b');
  });

  it('leaves output untouched without secrets and ignores values under 3 bytes', () => {
    const m = new SecretMasker(['1', '']);
    expect(m.active).toBe(false);
    const chunk = Buffer.from('1 2 3');
    expect(m.push(chunk)).toBe(chunk);
  });
});
