/**
 * The tap-junit plugin's agent entry: the report format `tap`. The agent calls convert(ctx) in a child node
 * process running as the job's build user, in the workspace, with ctx = { name, to, path, workspace, plugin }
 * (path: the workspace-relative report file). It returns the JUnit XML text; the agent uploads it in place
 * of the file, under the file's path.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { tapToJunit } from './tap.mjs';

export const reportFormats = {
  tap: {
    async convert(ctx) {
      const text = await readFile(resolve(ctx.workspace, ctx.path), 'utf8');
      if (!/^\s*(TAP version \d+|1\.\.\d+|(not )?ok\b)/m.test(text)) throw new Error(`${ctx.path} is not TAP output (no "TAP version", plan or test point)`);
      return tapToJunit(text, ctx.path);
    },
  },
};
