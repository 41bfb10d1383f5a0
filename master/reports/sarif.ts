/**
 * SARIF 2.1.0 -> findings (rule, level, severity, message, file, line), for any tool that writes the OASIS
 * format (ESLint's SARIF formatter, Semgrep, CodeQL, the scan step's built-in scanners).
 *
 * What is read, per run: tool.driver.name, the driver's rules (default level, security-severity, message
 * strings) and each result's ruleId (or rule.id, or ruleIndex), level (result, else the rule's default
 * configuration, else 'warning' as the spec says; a result whose kind is not 'fail' is 'none'), message
 * (text, markdown, or the rule's message string with its {n} arguments filled in) and first physical
 * location. Every result becomes a finding: nothing is dropped for size (a 100k-result file is 100k rows).
 */
import { createHash } from 'node:crypto';
import type { SarifLevel, Severity } from '../../shared/api';
import { ReportFormatError } from './junit';
import type { Finding, ParsedReport, ReportParser } from './types';

/** Longest message kept per finding (tools sometimes embed whole files). */
const MAX_MESSAGE = 2048;
const MAX_FIELD = 1024;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}...` : s);
const LEVELS = new Set<SarifLevel>(['error', 'warning', 'note', 'none']);

/** The severity rule of shared/api.ts Severity. */
export function severityOf(level: SarifLevel, securitySeverity: number | undefined): Severity {
  if (securitySeverity !== undefined && Number.isFinite(securitySeverity)) return securitySeverity >= 7 ? 'high' : securitySeverity >= 4 ? 'medium' : 'low';
  return level === 'error' ? 'high' : level === 'warning' ? 'medium' : 'low';
}

export function fingerprintOf(tool: string, ruleId: string, file: string | null, message: string): string {
  return createHash('sha1').update(`${tool}\0${ruleId}\0${file ?? ''}\0${message}`).digest('hex');
}

function normalizeUri(uri: string): string {
  let u = uri.replace(/^file:\/\//, '').replace(/^%SRCROOT%\/?/, '');
  try {
    u = decodeURI(u);
  } catch {
    // A malformed escape stays as written.
  }
  return clip(u.replace(/^\.\//, ''), MAX_FIELD);
}

interface RuleInfo {
  id?: string;
  level?: SarifLevel;
  securitySeverity?: number;
  messages: Obj;
}

function ruleInfo(r: unknown): RuleInfo {
  const o = obj(r) ?? {};
  const level = str(obj(o.defaultConfiguration)?.level) as SarifLevel | undefined;
  const sev = obj(o.properties)?.['security-severity'];
  return {
    id: str(o.id),
    level: level && LEVELS.has(level) ? level : undefined,
    securitySeverity: sev === undefined ? undefined : Number(sev),
    messages: obj(o.messageStrings) ?? {},
  };
}

function messageOf(m: Obj | undefined, rule: RuleInfo | undefined): string {
  if (!m) return '';
  const direct = str(m.text) ?? str(m.markdown);
  if (direct !== undefined) return direct;
  const id = str(m.id);
  const template = id ? (str(obj(rule?.messages[id])?.text) ?? '') : '';
  const args = Array.isArray(m.arguments) ? m.arguments : [];
  return template.replace(/\{(\d+)\}/g, (all, n: string) => (args[Number(n)] !== undefined ? String(args[Number(n)]) : all));
}

/** Parses a SARIF 2.1.0 log; throws ReportFormatError naming the problem. */
export function parseSarif(text: string): ParsedReport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ReportFormatError(`not valid JSON: ${(e as Error).message}`);
  }
  const root = obj(doc);
  if (!root || !Array.isArray(root.runs)) throw new ReportFormatError('not a SARIF log: no "runs" array at the top level');
  if (root.version !== '2.1.0') throw new ReportFormatError(`SARIF version ${JSON.stringify(root.version ?? null)} is not supported (2.1.0 is)`);
  const findings: Finding[] = [];
  root.runs.forEach((run: unknown, ri: number) => {
    const r = obj(run);
    if (!r) throw new ReportFormatError(`runs[${ri}] is not an object`);
    const driver = obj(obj(r.tool)?.driver);
    const tool = clip(str(driver?.name) ?? 'unknown', MAX_FIELD);
    const rules = (Array.isArray(driver?.rules) ? driver.rules : []).map(ruleInfo);
    const byId = new Map(rules.filter((x) => x.id).map((x) => [x.id!, x]));
    const results = r.results === undefined || r.results === null ? [] : r.results;
    if (!Array.isArray(results)) throw new ReportFormatError(`runs[${ri}].results is not an array`);
    for (let i = 0; i < results.length; i++) {
      const res = obj(results[i]);
      if (!res) throw new ReportFormatError(`runs[${ri}].results[${i}] is not an object`);
      const ref = obj(res.rule);
      const index = typeof res.ruleIndex === 'number' ? res.ruleIndex : typeof ref?.index === 'number' ? (ref.index as number) : undefined;
      const ruleId = str(res.ruleId) ?? str(ref?.id) ?? (index !== undefined ? rules[index]?.id : undefined) ?? '(no rule)';
      const rule = (index !== undefined ? rules[index] : undefined) ?? byId.get(ruleId);
      const kind = str(res.kind) ?? 'fail';
      const given = str(res.level) as SarifLevel | undefined;
      const level: SarifLevel = kind !== 'fail' ? 'none' : given && LEVELS.has(given) ? given : (rule?.level ?? 'warning');
      const resSev = obj(res.properties)?.['security-severity'];
      const severity = severityOf(level, resSev !== undefined ? Number(resSev) : rule?.securitySeverity);
      const message = clip(messageOf(obj(res.message), rule), MAX_MESSAGE);
      const loc = obj(obj(Array.isArray(res.locations) ? res.locations[0] : undefined)?.physicalLocation);
      const uri = str(obj(loc?.artifactLocation)?.uri);
      const file = uri !== undefined ? normalizeUri(uri) : null;
      const startLine = obj(loc?.region)?.startLine;
      const line = typeof startLine === 'number' && Number.isInteger(startLine) && startLine > 0 ? startLine : null;
      findings.push({ tool, ruleId: clip(ruleId, MAX_FIELD), level, severity, message, file, line, fingerprint: fingerprintOf(tool, ruleId, file, message) });
    }
  });
  return { tests: 0, failures: 0, errors: 0, skipped: 0, durationMs: 0, cases: [], findings };
}

export const sarifParser: ReportParser = { format: 'sarif', parse: parseSarif };
