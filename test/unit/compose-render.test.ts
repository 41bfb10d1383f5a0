import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { interpolate, renderCompose } from '../../shared/compose/render';

const base = { file: 'deploy/compose.yml', environment: 'pre', vars: { IMAGE: 'reg/app@sha256:abc', APP: 'shop', REPLICAS: '2' } };

function problems(text: string, extra: Partial<typeof base> & { secrets?: Record<string, string> } = {}): string[] {
  try {
    renderCompose(text, { ...base, ...extra });
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as Error).message.split('\n');
  }
  throw new Error('expected a validation error');
}

describe('compose interpolation', () => {
  it('follows the compose forms', () => {
    const vars: Record<string, string> = { A: 'a', E: '' };
    const look = (n: string) => vars[n];
    expect(interpolate('${A}-$A-$$A', look)).toBe('a-a-$A');
    expect(interpolate('${E:-d}|${E-d}|${U-d}|${U:-d}', look)).toBe('d||d|d');
    expect(() => interpolate('${U:?set U please}', look)).toThrow('set U please');
    expect(() => interpolate('${U}', look)).toThrow(/variable U is not set/);
  });
});

describe('renderCompose', () => {
  it('fills variables into values, normalises and applies defaults', () => {
    const r = renderCompose(
      `services:
  web:
    image: \${IMAGE}
    environment: [GREETING=hi, "SECRET_TOKEN=\${TOKEN}"]
    healthcheck: { http: /health }
    deploy:
      replicas: 2
      resources: { limits: { memory: 128m, cpus: "0.5" } }
      update_config: { parallelism: 1, delay: 1s }
    stop_grace_period: 10s
`,
      { ...base, secrets: { TOKEN: 's3cr3t-value' } },
    );
    const web = r.config.services.web;
    expect(web.image).toBe('reg/app@sha256:abc');
    expect(web.environment).toEqual({ GREETING: 'hi', SECRET_TOKEN: 's3cr3t-value' });
    expect(web.healthcheck).toMatchObject({ http: '/health', start_period: 20_000, interval: 2_000, timeout: 2_000, retries: 3, deadline: 90_000 });
    expect(web.deploy?.resources?.limits).toEqual({ memory: 128 * 1024 * 1024, cpus: 0.5 });
    expect(web.deploy?.update_config).toEqual({ parallelism: 1, delay: 1000, order: 'start-first', failure_action: 'rollback' });
    expect(web.stop_grace_period).toBe(10_000);
    // The kept text has the image filled in and the secret as a reference only.
    expect(r.text).toContain('image: reg/app@sha256:abc');
    expect(r.text).toContain('SECRET_TOKEN=${TOKEN}');
    expect(r.text).not.toContain('s3cr3t-value');
  });

  it('a value cannot change the structure of the file', () => {
    const r = renderCompose('services:\n  web:\n    image: ${IMAGE}\n    command: ["echo", "${MSG}"]\n', { ...base, vars: { ...base.vars, MSG: 'x\n    privileged: true' } });
    expect(r.config.services.web.privileged).toBeUndefined();
    expect(r.config.services.web.command).toEqual(['echo', 'x\n    privileged: true']);
  });

  it('lists unsupported keys, with reasons for the refused ones, at their lines', () => {
    const msgs = problems('services:\n  web:\n    image: x\n    links: [db]\n    sysctls: {a: 1}\n    ports: ["80:80"]\n');
    expect(msgs[0]).toBe('deploy/compose.yml: (compose): unsupported compose keys: services.web.links, services.web.sysctls');
    expect(msgs).toContain("deploy/compose.yml:4:12: services.web.links: unsupported compose key 'links'");
    expect(msgs.some((m) => /^deploy\/compose.yml:6:12: services.web.ports: every instance runs with host networking/.test(m))).toBe(true);
  });

  it('names an unset variable at its line', () => {
    expect(problems('services:\n  web:\n    image: ${IMAGE}\n    user: ${RUN_AS}\n')).toEqual([
      'deploy/compose.yml:4:11: services.web.user: variable RUN_AS is not set (give it a value for this environment, or a default: ${RUN_AS:-value})',
    ]);
  });

  it('refuses host powers unless the environment allows them', () => {
    const text = 'services:\n  web:\n    image: x\n    privileged: true\n    volumes: ["/etc:/host-etc", "/var/run/docker.sock:/var/run/docker.sock", "data:/data"]\n';
    const msgs = problems(text);
    expect(msgs).toHaveLength(3);
    expect(msgs.join('\n')).toContain('services.web.volumes[0]: bind-mounting the host path /etc is not allowed in environment pre (an admin can allow it: slipway env update pre --allow bind-mounts, setting allowBindMounts)');
    expect(msgs.join('\n')).toMatch(/services.web.volumes\[1\]: mounting the Docker socket is not allowed/);
    expect(msgs.join('\n')).toMatch(/services.web.privileged: privileged containers are not allowed/);
    const ok = renderCompose(text, { ...base, policy: { allowBindMounts: true, allowPrivileged: true, allowDockerSocket: true } });
    expect(ok.config.services.web.volumes).toHaveLength(3);
  });

  it('wants exactly one health probe kind', () => {
    expect(problems('services:\n  web:\n    image: x\n    healthcheck: { interval: 1s }\n').join('\n')).toMatch(/exactly one of http: \/path or tcp: true/);
  });
});
