#!/usr/bin/env -S node --import tsx
/**
 * The `slipway` command line: runs the master and agents (`master start`, `agent start`) and talks to a
 * running master through the public API only (login, apply, trigger, builds, logs, admin commands).
 * Run as `node --import tsx bin/slipway.ts ...` or `npm run slipway -- ...`.
 * Every failure prints one clear line per problem on stderr and exits 1; no stack traces.
 */
import { Command } from 'commander';
import { registerAdminCommands } from './commands/admin';
import { registerAppLogsCommands } from './commands/app-logs';
import { registerBuildCommands } from './commands/builds';
import { registerDeploymentCommands } from './commands/deployments';
import { registerLoginCommand } from './commands/login';
import { registerLogsCommand } from './commands/logs';
import { registerDiscoveryCommands } from './commands/discovery';
import { registerJobCommands } from './commands/job';
import { registerPluginCommands } from './commands/plugins';
import { registerQualityCommands } from './commands/quality';
import { registerRegisterCommand } from './commands/register';
import { registerRegistryCommands } from './commands/registry';
import { registerAgentStartCommand, registerMasterCommands } from './commands/serve';
import { registerTriggersCommand } from './commands/triggers';
import { fail, guardOutput } from './lib/output';

guardOutput();

const program = new Command('slipway')
  .description('Slipway CI/CD: one master, environment-bound agents')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

registerMasterCommands(program);
const agent = program.command('agent').description('run agents and manage agent tokens');
registerAgentStartCommand(agent);
registerLoginCommand(program);
registerBuildCommands(program);
registerJobCommands(program);
registerDeploymentCommands(program);
registerLogsCommand(program);
registerAppLogsCommands(program);
registerTriggersCommand(program);
registerQualityCommands(program);
registerRegisterCommand(program);
registerDiscoveryCommands(program);
registerRegistryCommands(program);
registerAdminCommands(program, agent);
registerPluginCommands(program);

program.parseAsync(process.argv).catch(fail);
