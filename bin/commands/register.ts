/**
 * `slipway register`: self-registration for apps that are not deployed by a Slipway agent (or want to
 * announce themselves). Registers `<prefix><app>_<environment>/<ip>-<port>` = `<ip>:<port>` in etcd under a
 * lease it keeps alive (the same layout and rules as agent registrations), optionally only once a health URL
 * answers, and deletes the key on SIGTERM or SIGINT before exiting, so an orchestrator stopping the app takes
 * it out of routing first. Run it beside the app (e.g. as the container's entrypoint wrapper).
 */
import type { Command } from 'commander';
import { badRequest } from '../../shared/errors';
import { parseIntOption } from '../lib/output';

interface RegisterFlags {
  etcd: string;
  app: string;
  environment: string;
  ip: string;
  port: number;
  ttl: number;
  prefix: string;
  health?: string;
}

export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description('register an app instance in etcd until SIGTERM (self-registration)')
    .requiredOption('--etcd <urls>', 'etcd client URLs, comma-separated', process.env.SLIPWAY_ETCD)
    .requiredOption('--app <name>', 'app name, as deploys name it', process.env.SLIPWAY_APP)
    .requiredOption('--environment <name>', 'environment name', process.env.SLIPWAY_ENVIRONMENT)
    .requiredOption('--ip <address>', 'address the edge reaches the instance at')
    .requiredOption('--port <n>', 'port the instance listens on (default $PORT)', parseIntOption('--port'), process.env.PORT ? Number(process.env.PORT) : undefined)
    .option('--ttl <seconds>', 'lease TTL (at least 5)', parseIntOption('--ttl'), 10)
    .option('--prefix <prefix>', 'key prefix', '/')
    .option('--health <url>', 'register only once this URL answers 2xx/3xx')
    .action(async (f: RegisterFlags) => {
      if (!/^[A-Za-z0-9.:[\]-]+$/.test(f.ip)) throw badRequest(`--ip: not an address: ${f.ip}`);
      if (f.port < 1 || f.port > 65535) throw badRequest(`--port: ${f.port} is not a TCP port (1-65535)`);
      const { EtcdRegistrar } = await import('../../agent/discovery/registrar');
      const registrar = new EtcdRegistrar({
        endpoints: f.etcd.split(',').map((u) => u.trim()),
        ttlSeconds: f.ttl,
        prefix: f.prefix,
        log: (m) => process.stderr.write(`slipway register: ${m}\n`),
      });
      const reg = { app: f.app, environment: f.environment, ip: f.ip, port: f.port };
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`slipway register: ${signal}, deregistering\n`);
        await registrar.deregister(reg).catch(() => undefined);
        await registrar.stop({ revoke: true });
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      if (f.health) await waitHealthy(f.health, () => stopping);
      if (stopping) return;
      await registrar.start();
      const key = await registrar.register(reg);
      process.stdout.write(`registered ${key} = ${f.ip}:${f.port} (lease TTL ${f.ttl} s)\n`);
      await new Promise(() => undefined);
    });
}

async function waitHealthy(url: string, stopped: () => boolean): Promise<void> {
  for (;;) {
    if (stopped()) return;
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' }).then(
      (r) => r.status >= 200 && r.status < 400,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}
