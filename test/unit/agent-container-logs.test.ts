/**
 * The container-log shipper's pure parts: Docker timestamps and resume positions, the multi-line rule, and the
 * on-disk spool (seqs, acks, reopen after a kill, the bound with its visible dropped count).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, appendFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONTINUATION, MultilineJoiner, type JoinedEntry, type MultilineRule } from '../../agent/container-logs/multiline';
import { parseDockerStamp, PositionTracker, sinceParam } from '../../agent/container-logs/position';
import { SourceSpool, SpoolSet } from '../../agent/container-logs/spool';
import { containerLogsService } from '../../agent/services/container-logs';
import { shipsContainer } from '../../agent/container-logs';
import { startAgent } from '../../agent';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'slipway-spool-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('Docker timestamps and positions', () => {
  it('parses nanosecond stamps into sortable keys and a since parameter', () => {
    const a = parseDockerStamp('2026-12-03T12:00:00.5Z')!;
    const b = parseDockerStamp('2026-12-03T12:00:00.123456789Z')!;
    expect(a.key > b.key).toBe(true);
    expect(b.ms).toBe(Date.parse('2026-12-03T12:00:00.123Z'));
    expect(sinceParam({ key: b.key, n: 1 })).toBe(`${Date.parse('2026-12-03T12:00:00Z') / 1000}.123456789`);
    expect(parseDockerStamp('not a time')).toBeUndefined();
  });

  it('skips what was read before a resume, also messages with the same stamp', () => {
    const t = new PositionTracker(undefined);
    const keys = ['1', '2', '2', '2', '3'].map((k) => k.padStart(3, '0'));
    expect(keys.map((k) => t.admit(k))).toEqual([true, true, true, true, true]);
    const resume = new PositionTracker({ key: '002', n: 2 });
    // The engine sends from 'since' on (stamps >= 002), maybe older ones too: only the third 002 and 003 are new.
    expect(['001', '002', '002', '002', '003'].map((k) => resume.admit(k))).toEqual([false, false, false, true, true]);
    expect(resume.current).toEqual({ key: '003', n: 1 });
  });
});

describe('multi-line entries', () => {
  const rule = (over: Partial<MultilineRule> = {}): MultilineRule => ({ continuation: new RegExp(DEFAULT_CONTINUATION), maxLines: 500, maxChars: 65536, flushMs: 50, ...over });
  const pos = (i: number) => ({ key: String(i).padStart(3, '0'), n: 1 });
  const run = (r: MultilineRule, lines: [string, 'stdout' | 'stderr'][]) => {
    const out: JoinedEntry[] = [];
    const j = new MultilineJoiner(r, (e) => out.push(e));
    lines.forEach(([text, stream], i) => j.push({ stream, ts: 1000 + i, text, pos: pos(i) }));
    j.flush();
    return out;
  };

  it('keeps a Java stack trace with its cause together, as one entry', () => {
    const trace = ['Exception in thread "main" java.lang.IllegalStateException: boom', '\tat a.B.c(B.java:10)', '\tat a.B.main(B.java:3)', 'Caused by: java.io.IOException: disk', '\t... 2 more'];
    const out = run(rule(), [['before', 'stdout'], ...trace.map((t) => [t, 'stderr'] as [string, 'stderr']), ['after', 'stderr']]);
    expect(out.map((e) => e.text)).toEqual(['before', trace.join('\n'), 'after']);
    expect(out[1]).toMatchObject({ stream: 'stderr', ts: 1001, pos: pos(5) });
  });

  it('never joins lines of different streams, and honours maxLines and maxChars', () => {
    expect(run(rule(), [['x', 'stdout'], ['  y', 'stderr']]).map((e) => e.text)).toEqual(['x', '  y']);
    expect(run(rule({ maxLines: 2 }), [['a', 'stdout'], [' b', 'stdout'], [' c', 'stdout']]).map((e) => e.text)).toEqual(['a\n b', ' c']);
    const long = 'z'.repeat(700);
    const cut = run(rule({ maxChars: 256 }), [[long, 'stdout']]);
    expect(cut.map((e) => e.text).join('')).toBe(long);
    expect(cut.every((e) => e.text.length <= 256)).toBe(true);
  });

  it('with a start rule, every other line continues the entry', () => {
    const out = run(rule({ start: /^\d{4}-/ }), [['2026-01-01 one', 'stdout'], ['not indented', 'stdout'], ['2026-01-01 two', 'stdout']]);
    expect(out.map((e) => e.text)).toEqual(['2026-01-01 one\nnot indented', '2026-01-01 two']);
  });

  it('emits a held entry after flushMs without more lines', async () => {
    const out: JoinedEntry[] = [];
    const j = new MultilineJoiner(rule({ flushMs: 30 }), (e) => out.push(e));
    j.push({ stream: 'stdout', ts: 1, text: 'alone', pos: pos(1) });
    expect(out).toEqual([]);
    await new Promise((r) => setTimeout(r, 120));
    expect(out.map((e) => e.text)).toEqual(['alone']);
  });
});

describe('spool', () => {
  const meta = { source: 'pre/c1', containerId: 'c1', app: 'shop', environment: 'pre', instance: 'shop-1' };
  const entry = (i: number): JoinedEntry => ({ stream: i % 2 ? 'stderr' : 'stdout', ts: i, text: `line ${i}`, pos: { key: String(i).padStart(6, '0'), n: 1 } });
  const entries = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => entry(from + k));

  it('numbers entries, reads them back across segments, forgets acknowledged segments, and reopens where it was', () => {
    const dir = tmp();
    const s = SourceSpool.create(join(dir, 'x'), meta, 4096);
    for (let i = 1; i <= 300; i += 10) s.append(entries(i, i + 9));
    expect(s.lastSeq).toBe(300);
    expect(s.segments.length).toBeGreaterThan(2);
    const got = s.read(1, 1000, 1e9);
    expect(got.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(got[2]).toEqual({ seq: 3, stream: 'stderr', ts: 3, text: 'line 3' });
    const segs = s.segments.length;
    s.ack(150);
    expect(s.segments.length).toBeLessThan(segs);
    expect(s.read(151, 5, 1e9).map((r) => r.seq)).toEqual([151, 152, 153, 154, 155]);
    s.close();
    const again = SourceSpool.open(join(dir, 'x'), 4096);
    expect([again.acked, again.lastSeq, again.position]).toEqual([150, 300, { key: '000300', n: 1 }]);
    expect(again.read(151, 1000, 1e9).length).toBe(150);
    again.append(entries(301, 301));
    expect(again.read(300, 10, 1e9).map((r) => r.text)).toEqual(['line 300', 'line 301']);
  });

  it('after a kill mid-write, keeps every whole line and the position of the last one', () => {
    const dir = tmp();
    const s = SourceSpool.create(join(dir, 'x'), meta, 1 << 20);
    s.append(entries(1, 5));
    // Killed: no state saved after the append, and half a line at the end.
    const seg = readdirSync(join(dir, 'x')).find((f) => f.endsWith('.seg'))!;
    appendFileSync(join(dir, 'x', seg), '[6,0,6,"line');
    const again = SourceSpool.open(join(dir, 'x'), 1 << 20);
    expect([again.lastSeq, again.position]).toEqual([5, { key: '000005', n: 1 }]);
    again.append(entries(6, 6));
    expect(again.read(1, 100, 1e9).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('over its bound drops the oldest segment and counts the lines it lost', () => {
    const dir = tmp();
    const set = new SpoolSet(dir, 3 * 4096, 4096);
    const a = set.create(meta);
    for (let i = 1; i <= 1000; i += 10) {
      a.append(entries(i, i + 9));
      set.enforceBound();
    }
    expect(set.bytes).toBeLessThanOrEqual(3 * 4096);
    expect(set.dropped).toBeGreaterThan(0);
    const left = a.read(1, 10_000, 1e9);
    // Nothing silently missing: what is left plus what was counted is everything.
    expect(left.length + set.dropped).toBe(1000);
    expect(left[left.length - 1].seq).toBe(1000);
    set.close();
    expect(new SpoolSet(dir, 3 * 4096, 4096).dropped).toBe(set.dropped);
  });
});

describe('spool access', () => {
  const meta = { source: 'pre/c3', containerId: 'c3', app: 'shop', environment: 'pre', instance: 'shop-3' };
  it("is the agent's user's only: directories 0700 (also one that existed), files 0600, whatever the umask", () => {
    const parent = tmp();
    const dir = join(parent, 'spool');
    mkdirSync(dir, { mode: 0o755 });
    const old = process.umask(0o022);
    try {
      const set = new SpoolSet(dir, 1 << 20, 256);
      const a = set.create(meta);
      for (let i = 1; i <= 20; i++) a.append([{ stream: 'stdout', ts: i, text: `unmasked line ${i} ${'x'.repeat(40)}`, pos: { key: String(i).padStart(6, '0'), n: 1 } }]);
      set.close();
      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      expect(mode(dir)).toBe('700');
      const [source] = readdirSync(dir);
      expect(mode(join(dir, source))).toBe('700');
      const files = readdirSync(join(dir, source));
      expect(files.filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(1);
      expect(files.map((f) => `${f} ${mode(join(dir, source, f))}`)).toEqual(files.map((f) => `${f} 600`));
      // A spool dir whose parent is missing: the parent gets the usual mode (it may hold the agent's work dir).
      new SpoolSet(join(parent, 'lib', 'spool'), 1 << 20, 256).close();
      expect([mode(join(parent, 'lib')), mode(join(parent, 'lib', 'spool'))]).toEqual(['755', '700']);
    } finally {
      process.umask(old);
    }
  });
});

describe('spool bound and entries in flight', () => {
  const meta = { source: 'pre/c2', containerId: 'c2', app: 'shop', environment: 'pre', instance: 'shop-2' };
  it('never drops a segment holding entries sent to the master: it drops the next oldest, counting exactly', () => {
    const dir = tmp();
    const set = new SpoolSet(dir, 3 * 4096, 4096);
    const a = set.create(meta);
    const e = (i: number) => ({ stream: 'stdout' as const, ts: i, text: `line ${i} ${'x'.repeat(40)}`, pos: { key: String(i).padStart(6, '0'), n: 1 } });
    for (let i = 1; i <= 100; i++) a.append([e(i)]);
    // Entries 1..60 are in flight; over the bound only segments after them may go.
    for (let i = 101; i <= 600; i++) {
      a.append([e(i)]);
      set.enforceBound(() => 60);
    }
    const left = a.read(1, 10_000, 1e9).map((r) => r.seq);
    expect(left.slice(0, 60)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(left.length + a.dropped).toBe(600);
    expect(left[left.length - 1]).toBe(600);
  });
});

describe('container-logs settings and labels', () => {
  it('refuses a bad regular expression and unknown fields, naming them', () => {
    const bad = containerLogsService.settings.safeParse({ multiline: { continuation: '(' } });
    expect(bad.error?.issues[0]).toMatchObject({ path: ['multiline', 'continuation'], message: 'not a valid regular expression' });
    expect(containerLogsService.settings.safeParse({ spool: { maxmb: 1 } }).error?.issues[0].message).toMatch(/maxmb/);
  });

  it('an agent file with bad container-logs settings stops the agent naming file, line and field', async () => {
    const dir = tmp();
    const file = join(dir, 'agent.yml');
    writeFileSync(file, 'services:\n  container-logs:\n    multiline: { continuation: "(" }\n');
    await expect(startAgent({ url: 'http://127.0.0.1:9', token: 't', name: 'a1', environment: 'pre', workDir: dir, configFile: file, ownProcess: false })).rejects.toThrow(
      `${file}:3:32: services.container-logs.multiline.continuation: not a valid regular expression`,
    );
  });

  it('ships deployed containers and opted-in ones of its own environment only', () => {
    const deployed = { 'io.slipway.app': 'shop', 'io.slipway.environment': 'pre', 'io.slipway.spec': 'x' };
    expect(shipsContainer(deployed, 'pre')).toBe(true);
    expect(shipsContainer(deployed, 'prod')).toBe(false);
    expect(shipsContainer({ ...deployed, 'io.slipway.logs': 'false' }, 'pre')).toBe(false);
    expect(shipsContainer({ 'io.slipway.app': 'legacy', 'io.slipway.environment': 'pre' }, 'pre')).toBe(false);
    expect(shipsContainer({ 'io.slipway.app': 'legacy', 'io.slipway.environment': 'pre', 'io.slipway.logs': 'true' }, 'pre')).toBe(true);
    expect(shipsContainer({ 'io.slipway.environment': 'pre', 'io.slipway.logs': 'true' }, 'pre')).toBe(false);
  });

  it('leaves a container whose io.slipway.agent names another agent to that agent', () => {
    const deployed = { 'io.slipway.app': 'shop', 'io.slipway.environment': 'pre', 'io.slipway.spec': 'x', 'io.slipway.agent': 'pre-1' };
    expect(shipsContainer(deployed, 'pre', 'pre-1')).toBe(true);
    expect(shipsContainer(deployed, 'pre', 'pre-2')).toBe(false);
    expect(shipsContainer({ ...deployed, 'io.slipway.logs': 'true', 'io.slipway.agent': 'pre-2' }, 'pre', 'pre-1')).toBe(false);
    // Without the label (opted-in containers), every agent of the environment follows it.
    expect(shipsContainer({ 'io.slipway.app': 'legacy', 'io.slipway.environment': 'pre', 'io.slipway.logs': 'true' }, 'pre', 'pre-2')).toBe(true);
  });

  it("leaves a Swarm task on the deploying agent's node to it; on another node the agents there ship it", () => {
    const task = { 'io.slipway.app': 'shop', 'io.slipway.environment': 'pre', 'io.slipway.spec': 'x', 'io.slipway.agent': 'pre-1', 'io.slipway.agent-node': 'node-a' };
    const onA = { ...task, 'com.docker.swarm.node.id': 'node-a' };
    const onB = { ...task, 'com.docker.swarm.node.id': 'node-b' };
    expect(shipsContainer(onA, 'pre', 'pre-1')).toBe(true);
    expect(shipsContainer(onA, 'pre', 'pre-2')).toBe(false);
    // pre-1 runs on node a's engine and never sees this container; node b's agents do.
    expect(shipsContainer(onB, 'pre', 'pre-3')).toBe(true);
    expect(shipsContainer(onB, 'prod', 'prod-1')).toBe(false);
    expect(shipsContainer({ ...onB, 'io.slipway.logs': 'false' }, 'pre', 'pre-3')).toBe(false);
  });
});
