// `npm run build`: compiles the CLI (with the master) and the agent to JavaScript with esbuild, so nothing
// needs tsx at run time, and writes:
//   dist/bin/slipway.mjs         the CLI + master (+ agent); npm packages stay external (better-sqlite3 is native)
//   dist/bin/parse-worker.mjs    the master's report parser worker (loaded next to slipway.mjs)
//   dist/agent/slipway-agent.mjs the agent alone, ONE file with every pure-JS dependency inlined (ws, zod, yaml,
//                                pino, dockerode, etcd3 + grpc, mustache, picomatch...; ssh2 stubbed, see below):
//                                what the master serves
//   dist/agent/slipway-agent.json {version, sha256, bytes, protocolVersion, node}: what the master announces
// The agent's version is `<package version>+<first 12 hex of the sha256 of its code>`, so any change to the
// agent's code is a new version (SLIPWAY_BUILD_VERSION overrides it: tests build a "newer" bundle with it).
// Options: --out DIR (default dist), --agent-only, --standalone (see the end of this file).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const out = resolve(root, outIdx >= 0 ? args[outIdx + 1] : 'dist');
const agentOnly = args.includes('--agent-only');
const standalone = args.includes('--standalone');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const require = createRequire(join(root, 'package.json'));
const started = Date.now();

// ESM output of CommonJS dependencies: give them require, __filename and __dirname.
const cjsShim = [
  "import { createRequire as __slipwayCreateRequire } from 'node:module';",
  "import { fileURLToPath as __slipwayFileURLToPath } from 'node:url';",
  'const require = __slipwayCreateRequire(import.meta.url);',
  'const __filename = __slipwayFileURLToPath(import.meta.url);',
  "const __dirname = __slipwayFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner: { js: cjsShim },
  logLevel: 'warning',
  legalComments: 'none',
};

/**
 * etcd3 reads its .proto files from its own directory at load time; inside one bundle they are not there.
 * Parse them here (protobufjs, which etcd3 brings) and inline the descriptor: proto-loader's fromJSON takes it.
 */
const etcdProtoInline = {
  name: 'etcd3-proto-inline',
  setup(b) {
    b.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (a) => {
      const protobuf = require('protobufjs');
      const protoFile = join(dirname(a.path), '..', 'proto', 'rpc.proto');
      // keepCase as etcd3's own loadSync asks: camelCased field names would make every request it builds empty
      // (a watch, for one, would never start).
      const json = new protobuf.Root().loadSync(protoFile, { keepCase: true }).toJSON();
      const src = readFileSync(a.path, 'utf8');
      const call = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`,/;
      if (!call.test(src)) throw new Error('etcd3 changed how it loads rpc.proto: update scripts/build.mjs');
      return { contents: src.replace(call, `(0, proto_loader_1.fromJSON)(${JSON.stringify(json)},`), loader: 'js' };
    });
  },
};

/**
 * dockerode reaches a remote engine over SSH through ssh2 (~350 KB with its crypto). The agent talks to its
 * host's engine socket (agent.yml docker.socket / DOCKER_HOST=unix://), so the bundle carries a stub that
 * says so if a DOCKER_HOST=ssh:// ever asks for it; the agent run from the sources keeps real ssh2.
 */
const ssh2Stub = {
  name: 'ssh2-stub',
  setup(b) {
    b.onResolve({ filter: /^ssh2$/ }, () => ({ path: 'ssh2', namespace: 'slipway-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'slipway-stub' }, () => ({
      contents:
        "export class Client { constructor() { throw new Error('Docker over ssh:// is not supported by the agent bundle: use the engine socket (docker.socket in agent.yml, or DOCKER_HOST=unix://...)'); } }",
      loader: 'js',
    }));
  },
};

/**
 * Packages the agent needs only once a step or service uses them: dockerode (it loads @grpc/grpc-js and a
 * protobuf schema for its BuildKit sessions) and etcd3 (grpc-js again, and its whole rpc.proto turned into a
 * client). Evaluating them at start cost about 60 of the ~110 ms the agent spent between its module load and
 * its first connect (node --cpu-prof). In the bundle their value imports go through a small module whose
 * constructors require() the real package on first use, so esbuild keeps it in its lazily run CommonJS
 * wrapper. LAZY lists every value the agent imports from them: a new one fails the build ("No matching
 * export"), never the agent at run time. Only constructors are listed: `new X(...)` returns the real instance.
 */
const LAZY = { dockerode: ['default'], etcd3: ['Etcd3'] };
const lazyPackages = {
  name: 'lazy-packages',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(LAZY).join('|')})$`);
    // The real package for the lazy module's own require(); the lazy module for every other importer.
    b.onResolve({ filter }, (a) => (a.namespace === 'slipway-lazy' ? undefined : { path: a.path, namespace: 'slipway-lazy' }));
    b.onLoad({ filter: /.*/, namespace: 'slipway-lazy' }, (a) => ({
      resolveDir: root,
      loader: 'js',
      contents: LAZY[a.path]
        .map((name) => {
          const real = name === 'default' ? `require(${JSON.stringify(a.path)})` : `require(${JSON.stringify(a.path)})[${JSON.stringify(name)}]`;
          const fn = `function (...args) { const Real = ${real}; return new Real(...args); }`;
          return name === 'default' ? `export default ${fn};` : `export const ${name} = ${fn};`;
        })
        .join('\n'),
    }));
  },
};

// -------------------------------------------------------------- the agent bundle
const PLACEHOLDER = '0.0.0+000000000000';
const agentDir = join(out, 'agent');
mkdirSync(agentDir, { recursive: true });
// The agent's code is CommonJS run by the loader (scripts/agent-loader.js) through node:vm with V8's code cache;
// it gets require, __filename and __dirname from the loader, and import.meta.url as __slipwayBundleUrl.
const agent = await build({
  ...common,
  format: 'cjs',
  banner: {},
  entryPoints: [join(root, 'bin', 'slipway-agent.ts')],
  write: false,
  outfile: join(agentDir, 'slipway-agent.cjs'),
  minify: true,
  external: ['*.node'],
  define: { __SLIPWAY_AGENT_VERSION__: JSON.stringify(PLACEHOLDER), 'import.meta.url': '__slipwayBundleUrl' },
  plugins: [lazyPackages, etcdProtoInline, ssh2Stub],
  metafile: true,
});
let code = Buffer.from(agent.outputFiles[0].contents).toString('utf8');
if (!code.includes(PLACEHOLDER)) throw new Error('the agent bundle does not carry its version');
const codeHash = createHash('sha256').update(code).digest('hex');
const version = process.env.SLIPWAY_BUILD_VERSION || `${pkg.version}+${codeHash.slice(0, 12)}`;
code = code.replaceAll(PLACEHOLDER, version);
const loader = readFileSync(join(root, 'scripts', 'agent-loader.js'), 'utf8');
if (!loader.includes('__SLIPWAY_AGENT_CODE__;') || !loader.includes('__SLIPWAY_AGENT_CODE_SHA256__;')) throw new Error('scripts/agent-loader.js lost its placeholders');
const body = loader
  .replace('__SLIPWAY_AGENT_CODE_SHA256__;', () => `${JSON.stringify(createHash('sha256').update(code).digest('hex'))};`)
  .replace('__SLIPWAY_AGENT_CODE__;', () => `${JSON.stringify(code)};`);
const sha256 = createHash('sha256').update(body).digest('hex');
writeFileSync(join(agentDir, 'slipway-agent.mjs'), body, { mode: 0o755 });
const info = { version, sha256, bytes: Buffer.byteLength(body), protocolVersion: protocolFromSource(), node: pkg.engines.node };
writeFileSync(join(agentDir, 'slipway-agent.json'), `${JSON.stringify(info, null, 2)}\n`);
console.log(`agent bundle: ${join(agentDir, 'slipway-agent.mjs')} (${(info.bytes / 1024).toFixed(0)} KiB, version ${version})`);

function protocolFromSource() {
  const m = /export const PROTOCOL_VERSION = (\d+);/.exec(readFileSync(join(root, 'shared', 'protocol', 'messages.ts'), 'utf8'));
  if (!m) throw new Error('PROTOCOL_VERSION not found in shared/protocol/messages.ts');
  return Number(m[1]);
}

// -------------------------------------------------------------- the CLI and the master
if (!agentOnly) {
  // dist/bin/ keeps the source's depth (bin/, master/http/ are two levels below the root for
  // new URL('../../package.json' | '../../web', import.meta.url)), so those paths resolve the same.
  await build({
    ...common,
    entryPoints: { slipway: join(root, 'bin', 'slipway.ts'), 'parse-worker': join(root, 'master', 'reports', 'parse-worker.ts') },
    outdir: join(out, 'bin'),
    outExtension: { '.js': '.mjs' },
    packages: 'external',
    define: { __SLIPWAY_AGENT_VERSION__: JSON.stringify(version) },
    sourcemap: 'linked',
  });
  console.log(`cli + master: ${join(out, 'bin', 'slipway.mjs')}`);
}

// -------------------------------------------------------------- the standalone CLI + master (container images)
// --standalone also writes dist/standalone/{slipway,parse-worker}.mjs: the same entries with every pure-JS
// dependency inlined (as the agent bundle), so the master image (docker/Dockerfile) needs no node_modules
// but better-sqlite3's native module: no tsx, no dev dependencies, no npm at image build time.
// The image puts them in /opt/slipway/dist/bin/, the depth the relative paths above expect.
if (standalone) {
  await build({
    ...common,
    entryPoints: { slipway: join(root, 'bin', 'slipway.ts'), 'parse-worker': join(root, 'master', 'reports', 'parse-worker.ts') },
    outdir: join(out, 'standalone'),
    outExtension: { '.js': '.mjs' },
    minify: true,
    external: ['better-sqlite3', '*.node'],
    define: { __SLIPWAY_AGENT_VERSION__: JSON.stringify(version) },
    plugins: [lazyPackages, etcdProtoInline, ssh2Stub],
  });
  console.log(`standalone cli + master: ${join(out, 'standalone', 'slipway.mjs')}`);
}
console.log(`built in ${Date.now() - started} ms`);
