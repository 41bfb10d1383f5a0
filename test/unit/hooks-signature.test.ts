import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { safeEqual, verifyGiteaSignature, verifyGithubSignature, verifyToken } from '../../master/webhooks/signature';

describe('webhook credentials', () => {
  it("verifies GitHub's documented test vector", () => {
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(verifyGithubSignature(header, Buffer.from('Hello, World!'), "It's a Secret to Everybody")).toBe(true);
    expect(verifyGithubSignature(header.toUpperCase().replace('SHA256=', 'sha256='), Buffer.from('Hello, World!'), "It's a Secret to Everybody")).toBe(true);
  });

  it('refuses a GitHub signature over other bytes, with another secret, missing or malformed', () => {
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(verifyGithubSignature(header, Buffer.from('Hello, World! '), "It's a Secret to Everybody")).toBe(false);
    expect(verifyGithubSignature(header, Buffer.from('Hello, World!'), 'another secret')).toBe(false);
    expect(verifyGithubSignature(undefined, Buffer.from('Hello, World!'), "It's a Secret to Everybody")).toBe(false);
    expect(verifyGithubSignature('sha1=757107ea0eb2509fc211221cce984b8a37570b6d', Buffer.from('Hello, World!'), "It's a Secret to Everybody")).toBe(false);
    expect(verifyGithubSignature(header.slice(7), Buffer.from('Hello, World!'), "It's a Secret to Everybody")).toBe(false);
  });

  it('verifies a Gitea hex signature and refuses a prefixed or wrong one', () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    const hex = createHmac('sha256', 's3cret').update(body).digest('hex');
    expect(verifyGiteaSignature(hex, body, 's3cret')).toBe(true);
    expect(verifyGiteaSignature(`sha256=${hex}`, body, 's3cret')).toBe(false);
    expect(verifyGiteaSignature(hex, body, 's3cret2')).toBe(false);
  });

  it('compares tokens of any length in constant time and never accepts an empty token', () => {
    expect(verifyToken('abc', 'abc')).toBe(true);
    expect(verifyToken('abc', 'abcd')).toBe(false);
    expect(verifyToken('', '')).toBe(false);
    expect(verifyToken(undefined, 'abc')).toBe(false);
    expect(safeEqual('x'.repeat(1000), 'x')).toBe(false);
  });
});
