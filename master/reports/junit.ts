/**
 * JUnit XML -> structured test results, with fast-xml-parser (a maintained XML parser, no regular expressions).
 *
 * Accepts the shapes real runners write: a <testsuites> root (JUnit, Maven Surefire aggregates, node --test
 * --test-reporter=junit, which also puts <testcase> directly under <testsuites>), or a single <testsuite>
 * root; suites nest. Totals are counted from the test cases themselves, not taken from the suites'
 * attributes (which runners fill inconsistently). A case is 'failed' with a <failure>, 'error' with an
 * <error>, 'skipped' with <skipped>, else 'passed'; time is seconds in the file, milliseconds here.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ParsedReport, ReportParser, TestCaseResult } from './types';

/** Longest message and details kept per case (the log has the rest). */
const MAX_MESSAGE = 4096;
const MAX_DETAILS = 16384;

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  // Every element that may repeat is always an array, so one shape is walked.
  isArray: (name) => name === 'testsuite' || name === 'testcase' || name === 'testsuites' || name === 'failure' || name === 'error' || name === 'skipped',
});

export class ReportFormatError extends Error {}

function attr(n: Node, name: string): string | undefined {
  const v = n[`@${name}`];
  return typeof v === 'string' ? v : undefined;
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Node)['#text'] === 'string') return (v as Node)['#text'] as string;
  return null;
}

function clip(s: string | null, max: number): string | null {
  return s === null ? null : s.length > max ? `${s.slice(0, max)}...` : s;
}

function caseOf(tc: Node, suite: string): TestCaseResult {
  const time = attr(tc, 'time');
  const seconds = time === undefined || time.trim() === '' ? NaN : Number(time);
  const problem = ((tc.failure as Node[] | undefined)?.[0] ?? (tc.error as Node[] | undefined)?.[0]) as Node | string | undefined;
  const status: TestCaseResult['status'] = tc.failure ? 'failed' : tc.error ? 'error' : tc.skipped ? 'skipped' : 'passed';
  let message: string | null = null;
  let details: string | null = null;
  if (problem !== undefined) {
    message = typeof problem === 'object' ? (attr(problem, 'message') ?? attr(problem, 'type') ?? null) : null;
    details = text(problem);
    if (message === null && details) message = details.trim().split('\n')[0];
  } else if (tc.skipped) {
    const s = (tc.skipped as unknown[])[0];
    message = s && typeof s === 'object' ? (attr(s as Node, 'message') ?? null) : text(s);
  }
  return {
    suite,
    classname: attr(tc, 'classname') ?? null,
    name: attr(tc, 'name') ?? '(unnamed)',
    status,
    durationMs: Number.isFinite(seconds) ? seconds * 1000 : null,
    message: clip(message, MAX_MESSAGE),
    details: clip(details, MAX_DETAILS),
  };
}

function walk(n: Node, suite: string, out: TestCaseResult[]): void {
  for (const tc of (n.testcase as Node[] | undefined) ?? []) out.push(caseOf(typeof tc === 'object' && tc ? tc : {}, suite));
  for (const s of (n.testsuite as Node[] | undefined) ?? []) {
    if (!s || typeof s !== 'object') continue;
    walk(s, attr(s, 'name') ?? suite, out);
  }
}

/** Parses a JUnit XML document; throws ReportFormatError naming the problem (with its line for bad XML). */
export function parseJunit(xml: string): ParsedReport {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new ReportFormatError(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (e) {
    throw new ReportFormatError(`not well-formed XML: ${(e as Error).message}`);
  }
  const roots = (doc.testsuites as Node[] | undefined) ?? (doc.testsuite ? [{ testsuite: doc.testsuite }] : undefined);
  if (!roots) {
    const found = Object.keys(doc).filter((k) => !k.startsWith('#') && !k.startsWith('?'));
    throw new ReportFormatError(`not a JUnit report: the root element is <${found[0] ?? 'none'}>, expected <testsuites> or <testsuite>`);
  }
  const cases: TestCaseResult[] = [];
  for (const r of roots) if (r && typeof r === 'object') walk(r, attr(r, 'name') ?? '', cases);
  const count = (s: TestCaseResult['status']) => cases.reduce((n, c) => n + (c.status === s ? 1 : 0), 0);
  return {
    tests: cases.length,
    failures: count('failed'),
    errors: count('error'),
    skipped: count('skipped'),
    durationMs: cases.reduce((t, c) => t + (c.durationMs ?? 0), 0),
    cases,
  };
}

export const junitParser: ReportParser = { format: 'junit', parse: parseJunit };
