/**
 * repo.knownHosts in job files: light validation of known_hosts lines (errors name the line and the YAML
 * location), and which repository URLs go over SSH.
 */
import { describe, expect, it } from 'vitest';
import { parseJobYaml } from '../../shared/job/parse';
import { isSshRepoUrl, knownHostsProblem } from '../../shared/ssh-host-keys';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIINZJDWEZo2FtzVYteSHwLHGhiepn7BTpanAo8aXzXsr';

const job = (knownHosts: string) => `name: ssh-job
team: shop
repo:
  url: ssh://git@git.example:2222/shop/web.git
  knownHosts: |
${knownHosts
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
stages:
  - name: build
    environment: ci
    steps: [ { sh: make } ]
`;

describe('knownHostsProblem', () => {
  it('accepts ssh-keyscan output with comments, blank lines, markers and hashed hosts', () => {
    const text = `# git.example:2222 SSH-2.0-OpenSSH_9.2\n\n[git.example]:2222 ssh-ed25519 ${KEY}\n|1|abc=|def= ssh-ed25519 ${KEY} comment\n@cert-authority *.example ssh-ed25519 ${KEY}\n`;
    expect(knownHostsProblem(text)).toBeNull();
  });

  it('names the first bad line and what is wrong with it', () => {
    expect(knownHostsProblem(`git.example ssh-ed25519 ${KEY}\nssh-ed25519 ${KEY}`)).toMatch(/^line 2: expected '<hosts> <key type> <base64 key>'.*got 2 fields/);
    expect(knownHostsProblem(`@trusted host ssh-ed25519 ${KEY}`)).toMatch(/^line 1: unknown marker '@trusted'/);
    expect(knownHostsProblem('@revoked host ssh-ed25519')).toMatch(/^line 1: expected '@revoked <hosts>/);
    expect(knownHostsProblem('host ssh-ed25519 not-base64!')).toMatch(/^line 1: the key 'not-base64!' is not base64/);
  });
});

describe('repo.knownHosts in a job file', () => {
  it('is kept as given when valid', () => {
    const cfg = parseJobYaml(job(`[git.example]:2222 ssh-ed25519 ${KEY}`));
    expect(cfg.repo?.knownHosts).toBe(`[git.example]:2222 ssh-ed25519 ${KEY}\n`);
  });

  it('is optional', () => {
    expect(parseJobYaml(job('# none yet')).repo?.knownHosts).toBe('# none yet\n');
    expect(parseJobYaml('name: j\nteam: t\nrepo: { url: "git@h:x.git" }\nstages: [ { name: b, environment: ci, steps: [ { sh: make } ] } ]\n').repo?.knownHosts).toBeUndefined();
  });

  it('is refused with the file, the field and the bad line', () => {
    const err = (() => {
      try {
        parseJobYaml(job(`[git.example]:2222 ssh-ed25519 ${KEY}\n[git.example]:2222 ${KEY}`), 'jobs/ssh.yml');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/jobs\/ssh\.yml:\d+:\d+: repo\.knownHosts: known_hosts line 2: expected/);
  });
});

describe('isSshRepoUrl', () => {
  it('tells the SSH forms apart', () => {
    expect(isSshRepoUrl('ssh://git@h:22/x.git')).toBe(true);
    expect(isSshRepoUrl('git+ssh://h/x.git')).toBe(true);
    expect(isSshRepoUrl('git@github.com:shop/web.git')).toBe(true);
    expect(isSshRepoUrl('https://h/x.git')).toBe(false);
    expect(isSshRepoUrl('file:///srv/x.git')).toBe(false);
    expect(isSshRepoUrl('/srv/x.git')).toBe(false);
    expect(isSshRepoUrl('git://h/x.git')).toBe(false);
  });
});
