/** Repository prefixes of registry grants (shared/registry-prefixes.ts): matching, defaults, parsing. */
import { describe, expect, it } from 'vitest';
import { defaultPrefixes, parsePrefixes, prefixProblem, repositoryAllowed } from '../../shared/registry-prefixes';

describe('registry grant prefixes', () => {
  it('a prefix ending in / allows the repositories under it, not a name that merely starts with it', () => {
    expect(repositoryAllowed('shop/web', ['shop/'])).toBe(true);
    expect(repositoryAllowed('shop/web/worker', ['shop/'])).toBe(true);
    expect(repositoryAllowed('shop', ['shop/'])).toBe(false);
    expect(repositoryAllowed('shopping/web', ['shop/'])).toBe(false);
    expect(repositoryAllowed('web/shop', ['shop/'])).toBe(false);
  });

  it('a repository path allows itself and what is below it; * allows any; several prefixes combine', () => {
    expect(repositoryAllowed('base/node', ['base/node'])).toBe(true);
    expect(repositoryAllowed('base/node/slim', ['base/node'])).toBe(true);
    expect(repositoryAllowed('base/nodejs', ['base/node'])).toBe(false);
    expect(repositoryAllowed('anything/at/all', ['*'])).toBe(true);
    expect(repositoryAllowed('base/x', ['shop/', 'base/'])).toBe(true);
    expect(repositoryAllowed('ops/x', ['shop/', 'base/'])).toBe(false);
    expect(repositoryAllowed('shop/web', [])).toBe(false);
  });

  it('defaults to TEAM/ for a shared registry and * for a registry of one team', () => {
    expect(defaultPrefixes('shop', 2)).toEqual(['shop/']);
    expect(defaultPrefixes('shop', 1)).toEqual(['*']);
  });

  it('validates prefixes, naming the bad one', () => {
    for (const ok of ['*', 'shop/', 'shop/web', 'a.b-c_d/e/']) expect(prefixProblem(ok)).toBeUndefined();
    for (const bad of ['', 'Shop/', '/shop', 'shop//', 'shop/*', '../x', 'a b']) expect(prefixProblem(bad)).toContain(`'${bad}' is not a repository prefix`);
  });

  it('parses TEAM=PREFIX lists, grouping by team, and names a malformed item', () => {
    expect(parsePrefixes('shop=shop/, shop=base/,web=*')).toEqual({ shop: ['shop/', 'base/'], web: ['*'] });
    expect(() => parsePrefixes('shop=shop/,oops', '--prefixes')).toThrow("--prefixes: 'oops' is not TEAM=PREFIX");
    expect(() => parsePrefixes('=x')).toThrow("prefixes: '=x' is not TEAM=PREFIX");
    expect(() => parsePrefixes('shop=')).toThrow("prefixes: 'shop=' is not TEAM=PREFIX");
  });
});
