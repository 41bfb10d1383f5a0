/**
 * Builds the browser UI (web/src) into web/dist, which the master serves at `/` (master/http/static.ts).
 * Imports from ../shared are bundled; only browser-safe modules may be imported (test/unit/web-imports.test.ts).
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // web/public holds the pre-UI placeholder page; the built app replaces it, so nothing is copied from there.
  publicDir: false,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
