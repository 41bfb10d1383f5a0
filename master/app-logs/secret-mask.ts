/**
 * Team secrets in container logs. A deploy step applies the secrets its job names (`secrets:` and the repo's
 * `credentials`) to the compose file's variables, so an app's containers hold those values and may print them.
 * The master masks every such value in a batch before the log center stores it, as the agent masks build logs
 * (`***`; each line of a multi-line secret on its own too; values under 3 bytes are not masked: see
 * shared/node/mask.ts). Masking on the master (not on the agent) because only the master knows which team and
 * secrets an app's deploys used, also for a container a long-lived agent service follows far from any stage.
 *
 * Values are resolved for every batch, so a secret set a moment ago is masked in the next batch. A container may
 * still run with a rotated (or deleted) secret's old value: the values the secrets held before, kept sealed by the
 * secret store for SLIPWAY_SECRET_HISTORY_DAYS (master/secrets/store.ts), are masked too, so this holds across a
 * master restart; and each value seen is remembered for the app while the master runs (also one a job no longer
 * names). Which jobs deploy an app is cached and rebuilt after any job change.
 */
import { deployTargets } from '../../shared/job';
import type { MasterContext } from '../context';

export const MASK = '***';
/** Same bound as the agent's SecretMasker: masking "1" would blank every digit of the log. */
export const MIN_SECRET_BYTES = 3;
/** Remembered values per app (rotations over one master run); beyond it the oldest are forgotten. */
const MAX_REMEMBERED = 256;

/** The strings to mask for these secret values: each value and each of its lines, longest first. */
export function secretNeedles(values: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const v of values) {
    for (const part of [v, ...v.split(/\r?\n/)]) if (Buffer.byteLength(part) >= MIN_SECRET_BYTES) set.add(part);
  }
  // Longest first, so a secret that contains another is masked whole.
  return [...set].sort((a, b) => b.length - a.length);
}

/** Compiled "contains any needle" tests of recent needle lists (one per app, typically), oldest dropped first. */
const anyOfCache = new Map<string, RegExp | null>();
const ANY_OF_CACHE_MAX = 64;
/** Longer needle lists go without the filter: V8 refuses very large expressions (and compiles big ones slowly). */
const ANY_OF_MAX_CHARS = 64 * 1024;

/**
 * One regular expression that matches where any needle occurs: a text is tested once instead of once per needle
 * (with the old values of rotated secrets an app may have dozens). Only a filter: the replacement stays the
 * sequential longest-first one below, as a leftmost regex match could mask a shorter needle inside a longer one
 * and leave the rest of the longer one in the text.
 */
function anyOf(needles: string[]): RegExp | null {
  const key = needles.join('\u0000');
  if (key.length > ANY_OF_MAX_CHARS) return null;
  let re = anyOfCache.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
      re.test(''); // compiled now: a refusal shows here, not in the middle of a batch
    } catch {
      re = null;
    }
    if (anyOfCache.size >= ANY_OF_CACHE_MAX) anyOfCache.delete(anyOfCache.keys().next().value!);
    anyOfCache.set(key, re);
  }
  return re;
}

/** Texts with every needle replaced by `***`; the same array when no text contains any (the common case). */
export function maskTexts(texts: string[], needles: string[]): string[] {
  if (!needles.length) return texts;
  const any = anyOf(needles);
  let out: string[] | undefined;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    if (any && !any.test(t)) continue;
    let masked = t;
    for (const n of needles) if (masked.includes(n)) masked = masked.split(n).join(MASK);
    if (masked !== t) (out ??= texts.slice())[i] = masked;
  }
  return out ?? texts;
}

export interface AppLogMasker {
  /** The batch's texts of `app` with its deploys' secret values masked. */
  mask(app: string, texts: string[]): string[];
}

export function createAppLogMasker(ctx: Pick<MasterContext, 'jobs' | 'secrets'>): AppLogMasker {
  /** app -> the (team, secret names) of every enabled job that deploys it. */
  let deployers: Map<string, { teamId: number; names: string[] }[]> | undefined;
  const remembered = new Map<string, Set<string>>();
  ctx.jobs.onChange(() => {
    deployers = undefined;
  });
  const deployersOf = (app: string) => {
    if (!deployers) {
      deployers = new Map();
      for (const j of ctx.jobs.all()) {
        const names = [...j.config.secrets, ...(j.config.repo?.credentials ? [j.config.repo.credentials] : [])];
        if (!names.length) continue;
        for (const app of new Set(deployTargets(j.config).map((t) => t.app))) {
          const list = deployers.get(app) ?? [];
          list.push({ teamId: j.teamId, names });
          deployers.set(app, list);
        }
      }
    }
    return deployers.get(app);
  };
  return {
    mask(app, texts) {
      const sources = deployersOf(app);
      let seen = remembered.get(app);
      if (sources) {
        if (!seen) remembered.set(app, (seen = new Set()));
        for (const s of sources) {
          // Older values first: the current ones are the newest remembered, the last to be forgotten.
          for (const v of [...ctx.secrets.previousValues(s.teamId, s.names), ...Object.values(ctx.secrets.resolve(s.teamId, s.names))]) {
            seen.delete(v);
            seen.add(v);
          }
        }
        while (seen.size > MAX_REMEMBERED) seen.delete(seen.values().next().value!);
      }
      return seen?.size ? maskTexts(texts, secretNeedles(seen)) : texts;
    },
  };
}
