/**
 * Secret detection over the checkout: known token formats (cloud keys, Git hosting and chat tokens, private
 * keys) reported as errors, and high-entropy values assigned to secret-looking names (password, token,
 * api_key...) as warnings. A finding never carries the secret: its message names the kind of token, the
 * first characters and the length.
 *
 * Allow-list (the step's `allowList` file, default `.slipway/secrets-allow`), one entry per line:
 *   path:GLOB         files not scanned (workspace-relative, e.g. path:test/fixtures/**)
 *   rule:ID           a rule switched off (e.g. rule:generic-secret)
 *   sha256:HEX        one value allowed (the sha256 of the token, so the file holds no secret)
 *   anything else     one value allowed, written as it is (a well-known test token)
 * and `slipway:allow-secret` on a line of a scanned file allows that line. # starts a comment.
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { result, sarifRun, type RuleDef, type SarifResult, type Scanner, type ScanContext } from './types';
import { lineAt, readRegular, walkFiles } from './walk';

/** Larger files (bundles, data) are not scanned. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const INLINE_ALLOW = 'slipway:allow-secret';

interface SecretRule extends RuleDef {
  re: RegExp;
  /** Which capture group holds the value (0: the whole match). */
  group?: number;
  /** Extra check on the value (entropy for generic assignments). */
  accept?: (value: string) => boolean;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const PLACEHOLDER = /(\$\{|\{\{|<[a-z_-]+>|xxxx|\*\*\*\*|example|changeme|placeholder|dummy|your[_-]?)/i;

export const SECRET_RULES: SecretRule[] = [
  { id: 'aws-access-key-id', description: 'AWS access key id', level: 'error', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  { id: 'github-token', description: 'GitHub token', level: 'error', re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82})\b/g },
  { id: 'gitlab-token', description: 'GitLab personal access token', level: 'error', re: /\bglpat-[A-Za-z0-9_-]{20}\b/g },
  { id: 'slack-token', description: 'Slack token', level: 'error', re: /\bxox[baprs]-[A-Za-z0-9-]{10,72}\b/g },
  { id: 'slack-webhook', description: 'Slack incoming webhook URL', level: 'error', re: /https:\/\/hooks\.slack\.com\/services\/T[A-Za-z0-9_]+\/B[A-Za-z0-9_]+\/[A-Za-z0-9_]{20,}/g },
  { id: 'stripe-secret-key', description: 'Stripe secret key', level: 'error', re: /\b[sr]k_live_[A-Za-z0-9]{20,99}\b/g },
  { id: 'google-api-key', description: 'Google API key', level: 'error', re: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { id: 'npm-token', description: 'npm access token', level: 'error', re: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { id: 'private-key', description: 'private key', level: 'error', re: /-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----/g },
  {
    id: 'generic-secret',
    description: 'high-entropy value assigned to a secret-looking name',
    level: 'warning',
    re: /(?:secret|passw(?:or)?d|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|auth)[A-Za-z0-9_-]*["']?\s*(?::=|=|:)\s*["']([A-Za-z0-9+/=_\-.~!@#$%^&*]{16,200})["']/gi,
    group: 1,
    accept: (v) => entropy(v) >= 3.5 && !PLACEHOLDER.test(v),
  },
];

export interface AllowList {
  paths: (path: string) => boolean;
  rules: Set<string>;
  values: Set<string>;
}

export function parseAllowList(text: string): AllowList {
  const globs: string[] = [];
  const rules = new Set<string>();
  const values = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('path:')) globs.push(line.slice(5).trim());
    else if (line.startsWith('rule:')) rules.add(line.slice(5).trim());
    else if (/^sha256:[0-9a-f]{64}$/i.test(line)) values.add(line.slice(7).toLowerCase());
    else values.add(createHash('sha256').update(line).digest('hex'));
  }
  return { paths: globs.length ? picomatch(globs, { dot: true }) : () => false, rules, values };
}

/** What a finding says instead of the secret: its first characters and its length. */
export function redact(value: string): string {
  return `${value.slice(0, value.length >= 20 ? 4 : 2)}... (${value.length} characters)`;
}

/** The findings of one file's text (latin1: tokens are ASCII, and any byte stays one character). */
export function scanText(path: string, text: string, allow: AllowList, rules: SecretRule[] = SECRET_RULES): SarifResult[] {
  const out: SarifResult[] = [];
  // Spans already reported by a known-format rule: the generic rule (listed last) does not report them again.
  const spans: [number, number][] = [];
  for (const rule of rules) {
    if (allow.rules.has(rule.id)) continue;
    rule.re.lastIndex = 0;
    let pos = { line: 1, offset: 0 };
    for (let m = rule.re.exec(text); m; m = rule.re.exec(text)) {
      const value = m[rule.group ?? 0];
      const start = m.index + m[0].lastIndexOf(value);
      if (rule.accept && !rule.accept(value)) continue;
      if (spans.some(([a, b]) => start < b && start + value.length > a)) continue;
      spans.push([start, start + value.length]);
      if (allow.values.size && allow.values.has(createHash('sha256').update(value).digest('hex'))) continue;
      const lineStart = text.lastIndexOf('\n', m.index) + 1;
      const lineEnd = text.indexOf('\n', m.index);
      if (text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).includes(INLINE_ALLOW)) continue;
      pos = lineAt(text, m.index, pos);
      out.push(result(rule.id, rule.level, `${rule.description}: ${redact(value)}`, path, pos.line, m.index - lineStart + 1));
    }
  }
  return out;
}

/** True for data that is not text (a NUL byte in its first 8 KiB, as git decides). */
const isBinary = (b: Buffer) => b.subarray(0, 8192).includes(0);

export const secretsScanner: Scanner = {
  name: 'secrets',
  version: '1.0.0',
  async run(ctx: ScanContext) {
    // Read like any scanned file: a link planted as the allow-list is not followed.
    const allowText = (await readRegular(ctx.allowList, MAX_FILE_BYTES))?.toString('latin1') ?? '';
    const allow = parseAllowList(allowText);
    const results: SarifResult[] = [];
    let files = 0;
    let bytes = 0;
    for await (const f of walkFiles(ctx.workspace, ctx.root, ctx.exclude, (p) => !allow.paths(p))) {
      if (ctx.signal.aborted) break;
      const buf = await readRegular(f.abs, MAX_FILE_BYTES);
      if (!buf || isBinary(buf)) continue;
      files++;
      bytes += buf.length;
      results.push(...scanText(f.path, buf.toString('latin1'), allow));
    }
    ctx.log(`secrets: ${files} files, ${(bytes / 1048576).toFixed(1)} MB scanned, ${results.length} findings`);
    return sarifRun('slipway-secrets', this.version, SECRET_RULES, results);
  },
};
