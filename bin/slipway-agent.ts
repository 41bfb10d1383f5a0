/**
 * The agent-only entry: what `npm run build` bundles into dist/agent/slipway-agent.mjs, the one file the
 * master serves to agent hosts. It has the `agent start` command of the full CLI (same flags) and nothing of
 * the master or the API client. Run as `node slipway-agent.mjs agent start --url ... --token-file ...`.
 */
import { Command } from 'commander';
import { AGENT_VERSION } from '../agent/version';
import { registerAgentStartCommand } from './commands/agent-start';
import { fail, guardOutput } from './lib/output';

guardOutput();

const program = new Command('slipway-agent')
  .description('Slipway agent (the bundle the master serves)')
  .version(AGENT_VERSION)
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });
registerAgentStartCommand(program.command('agent').description('run an agent'));

program.parseAsync(process.argv).catch(fail);
