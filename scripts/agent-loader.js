#!/usr/bin/env node
// The Slipway agent bundle (written by scripts/build.mjs from scripts/agent-loader.js): one file, the agent's
// code in the string CODE below. This prologue compiles it with V8's code cache, kept next to this file in
// `<file>.v8cache` (Node 20 has no module compile cache of its own): compiling the ~1.5 MB of code was the
// largest part of the agent's start. The cache is written 30 s after start or at exit, whichever
// comes first (so it holds the functions the start compiled), only where the bundle's own directory is
// writable (like the bundle, root's in an install), and used only when its first line matches this code's
// sha256, this Node and this architecture; V8 checks it again and falls back to compiling (and a new cache)
// when it does not fit. The first start of a new bundle (after an upgrade, too) has no cache yet.
// Nothing else lives here: the agent itself is bin/slipway-agent.ts.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const CODE = __SLIPWAY_AGENT_CODE__;
const CODE_SHA256 = __SLIPWAY_AGENT_CODE_SHA256__;
const CACHE_AFTER_MS = 30_000;

const file = fileURLToPath(import.meta.url);
const cacheFile = `${file}.v8cache`;
const key = `${CODE_SHA256} ${process.version} ${process.arch}\n`;
let cachedData;
try {
  const buf = readFileSync(cacheFile);
  if (buf.subarray(0, key.length).toString('latin1') === key) cachedData = buf.subarray(key.length);
} catch {
  // no cache yet
}
const script = new Script(`(function (exports, require, module, __filename, __dirname, __slipwayBundleUrl) {${CODE}\n})`, { filename: file, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
  const stamp = (st) => `${st.ino}:${st.size}:${st.mtimeMs}`;
  const startedAs = stamp(statSync(file));
  let written = false;
  const writeCache = () => {
    if (written) return;
    written = true;
    // Replaced meanwhile (a self-upgrade exits right after): a cache of the old code would only be thrown away.
    try {
      if (stamp(statSync(file)) !== startedAs) return;
    } catch {
      return;
    }
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, Buffer.concat([Buffer.from(key, 'latin1'), script.createCachedData()]), { mode: 0o644 });
      renameSync(tmp, cacheFile);
    } catch {
      // A read-only bundle directory: the agent runs without a cache.
      rmSync(tmp, { force: true });
    }
  };
  setTimeout(writeCache, CACHE_AFTER_MS).unref();
  process.once('exit', writeCache);
}
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), import.meta.url);
