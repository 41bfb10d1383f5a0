/**
 * Agents and plugins API: GET /agents (every signed-in user; agents are not team objects),
 * POST /agents/:id/drain (instance admins: master:drain, the agent finishes its work and takes no more),
 * GET /plugins (step kinds of the job schema plus the executors connected agents reported), GET /plugins/schema
 * (JSON Schema of every step key, from the same zod schemas the master validates jobs with).
 * An agent's API state is derived: 'busy' is a connected agent with at least one running lease.
 */
import { Router } from 'express';
import type { AgentInfo, EdgeInfo, PluginInfo } from '../../../shared/api';
import { badRequest, forbidden, notFound } from '../../../shared/errors';
import { parsePositiveInt } from '../../../shared/ids';
import type { EngineCore } from '../core';
import type { AgentGateway } from '../gateway/agent-gateway';
import { allow } from '../../route-access';
import { agentsStore, type AgentListRow } from '../../store/agents';

type AgentRow = AgentListRow;

export function agentRoutes(core: EngineCore, gateway: AgentGateway): Router {
  const { db } = core;
  const r = Router();
  const agents = agentsStore(db);

  const toInfo = (a: AgentRow): AgentInfo => {
    const live = core.sessions.get(a.id);
    const facts = core.agentFacts.get(a.id);
    let state = a.state;
    if (live && !live.lost) state = live.draining ? 'draining' : a.running > 0 ? 'busy' : 'connected';
    return {
      id: a.id,
      name: a.name,
      environment: a.environment,
      labels: JSON.parse(a.labels) as string[],
      capacity: a.capacity,
      state,
      running: a.running,
      lastSeenAt: live ? live.lastFrameAt : a.last_seen_at,
      version: a.version,
      upgradingTo: live && !live.lost ? (live.upgradingTo ?? null) : null,
      protocolVersion: live && !live.lost ? (live.protocolVersion ?? null) : null,
      kinds: (JSON.parse(a.executors) as { kind: string }[]).map((e) => e.kind),
      capabilities: facts.capabilities,
      services: live ? live.services : facts.services,
      plugins: live && !live.lost ? (live.plugins ?? []) : [],
    };
  };

  r.get('/agents', allow({ kind: 'user', scope: 'read' }), (_req, res) => {
    res.json(agents.list().map(toInfo));
  });

  // Edges: agents running the edge service, with its last reload count and error (service/discovery).
  r.get('/edges', allow({ kind: 'user', scope: 'read' }), (_req, res) => {
    const out: EdgeInfo[] = [];
    for (const a of agents.list().map(toInfo)) {
      const edge = a.services?.find((s) => s.name === 'edge');
      if (edge) out.push({ agent: a.name, environment: a.environment, state: edge.state, detail: edge.detail, facts: edge.facts, at: edge.at });
    }
    res.json(out);
  });

  r.post('/agents/:id/drain', allow({ kind: 'admin' }), (req, res) => {
    const id = parsePositiveInt(req.params.id, 'agent id');
    const row = agents.get(id);
    if (!row) throw notFound(`agent ${id}`);
    if (!gateway.drain(id)) throw badRequest(`agent '${row.name}' is not connected`);
    res.json(toInfo(agents.get(id)!));
  });

  r.get('/plugins', allow({ kind: 'user', scope: 'read' }), (_req, res) => {
    const byKind = new Map<string, PluginInfo>();
    for (const def of core.stepKinds.list()) byKind.set(def.kind, { kind: def.kind, aliases: def.aliases, capabilities: def.capabilities, agents: [] });
    for (const s of core.sessions.values()) {
      for (const ex of s.executors) {
        const kind = core.stepKinds.get(ex.kind)?.kind ?? ex.kind;
        let info = byKind.get(kind);
        if (!info) byKind.set(kind, (info = { kind, aliases: [], capabilities: [], agents: [] }));
        info.agents.push({ agent: s.name, version: ex.version });
      }
    }
    res.json([...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind)));
  });

  r.get('/plugins/schema', allow({ kind: 'user', scope: 'read' }), (_req, res) => {
    res.json({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      description: 'Slipway step kinds: the value of each step key in a job file',
      // What a job file may use now: built-ins and enabled plugins' kinds (each plugin kind as its manifest's JSON Schema).
      stepKeys: (core.ctx.plugins?.enabledKinds() ?? core.stepKinds).jsonSchema(),
    });
  });

  return r;
}
