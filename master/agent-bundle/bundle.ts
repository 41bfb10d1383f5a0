/**
 * The agent bundle this master serves to agent hosts: dist/agent/slipway-agent.mjs and its
 * slipway-agent.json ({version, sha256, bytes, protocolVersion, node}), both written by `npm run build`
 * (scripts/build.mjs). SLIPWAY_AGENT_BUNDLE_DIR (MasterConfig.agentBundleDir) points elsewhere.
 *
 * The bundle's version is the agent version this master wants: agents started from it with --auto-upgrade
 * compare their own version with it and replace themselves when they differ (agent/self-upgrade.ts).
 * The json is re-read when its mtime changes, so a rebuild is served without a restart; the sha256 is
 * checked against the file once per change, so a bundle that does not match its json is never served.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { acceptsProtocolVersion, PROTOCOL_VERSION } from '../../shared/protocol/messages';

/** From source: master/agent-bundle/ -> the repository root; built: dist/bin/ -> the same root. */
const DEFAULT_DIR = fileURLToPath(new URL('../../dist/agent/', import.meta.url));

export const BUNDLE_FILE = 'slipway-agent.mjs';
export const INFO_FILE = 'slipway-agent.json';

export const AgentBundleInfoSchema = z.object({
  version: z.string().min(1).max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  protocolVersion: z.number().int(),
  /** The Node versions the bundle runs on (package.json engines.node), e.g. ">=20.19". */
  node: z.string(),
});
export type AgentBundleInfo = z.infer<typeof AgentBundleInfoSchema>;

export type BundleState = { ok: true; info: AgentBundleInfo; file: string } | { ok: false; problem: string };

export class AgentBundle {
  readonly dir: string;
  private cached: { mtimeMs: number; size: number; state: BundleState } | undefined;

  constructor(dir?: string) {
    this.dir = dir ?? DEFAULT_DIR;
  }

  /** The bundle as it is on disk now, or why there is none to serve. */
  current(): BundleState {
    const infoPath = join(this.dir, INFO_FILE);
    const file = join(this.dir, BUNDLE_FILE);
    let st: { mtimeMs: number; size: number };
    try {
      const a = statSync(infoPath);
      const b = statSync(file);
      st = { mtimeMs: Math.max(a.mtimeMs, b.mtimeMs), size: a.size + b.size };
    } catch {
      return { ok: false, problem: `no agent bundle in ${this.dir}: run \`npm run build\` on the master` };
    }
    if (this.cached && this.cached.mtimeMs === st.mtimeMs && this.cached.size === st.size) return this.cached.state;
    const state = load(infoPath, file);
    this.cached = { ...st, state };
    return state;
  }
}

function load(infoPath: string, file: string): BundleState {
  let info: AgentBundleInfo;
  try {
    const parsed = AgentBundleInfoSchema.safeParse(JSON.parse(readFileSync(infoPath, 'utf8')));
    if (!parsed.success) return { ok: false, problem: `${infoPath}: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
    info = parsed.data;
  } catch (err) {
    return { ok: false, problem: `${infoPath}: ${(err as Error).message}` };
  }
  // An agent that upgraded to a bundle this master refuses would be stranded: serve none instead.
  if (!acceptsProtocolVersion(info.protocolVersion)) {
    return { ok: false, problem: `${infoPath}: the bundle speaks protocol ${info.protocolVersion}, this master ${PROTOCOL_VERSION}: rebuild it with this master's sources` };
  }
  const body = readFileSync(file);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== info.sha256 || body.length !== info.bytes) {
    return { ok: false, problem: `${file} does not match ${INFO_FILE} (sha256 ${sha}): rebuild with \`npm run build\`` };
  }
  return { ok: true, info, file };
}
