/**
 * The built-in example service: reports the free space of the filesystem holding the agent's work directory
 * (or `path`), degraded below `minFreeMb`. Proves the service contract end to end; useful on its own, since a
 * full disk is the most common way an agent fails builds.
 */
import { statfs } from 'node:fs/promises';
import { z } from 'zod';
import type { AgentService, ServiceFactory } from './types';

const settings = z.strictObject({
  /** Directory whose filesystem is watched (default: the agent's work directory). */
  path: z.string().startsWith('/', 'must be an absolute path').optional(),
  /** Below this many free MiB the service reports 'degraded'. */
  minFreeMb: z.number().int().min(0).default(1024),
});

export const diskSpaceService: ServiceFactory<z.output<typeof settings>> = {
  name: 'disk-space',
  settings,
  create(s, ctx): AgentService {
    const path = s.path ?? ctx.workDir;
    let started = false;
    return {
      name: 'disk-space',
      async start() {
        // Fails now, naming the path, rather than reporting 'failed' forever.
        await statfs(path);
        started = true;
      },
      async health() {
        if (!started) return { state: 'failed', detail: 'not started' };
        try {
          const st = await statfs(path);
          const free = st.bavail * st.bsize;
          const total = st.blocks * st.bsize;
          const freeMb = Math.floor(free / 1024 / 1024);
          const facts = { path, freeBytes: free, totalBytes: total };
          return freeMb < s.minFreeMb
            ? { state: 'degraded', detail: `${freeMb} MiB free on ${path}, below ${s.minFreeMb} MiB`, facts }
            : { state: 'running', detail: `${freeMb} MiB free on ${path}`, facts };
        } catch (e) {
          return { state: 'failed', detail: `statfs ${path}: ${(e as Error).message}` };
        }
      },
      async stop() {
        started = false;
      },
    };
  },
};
