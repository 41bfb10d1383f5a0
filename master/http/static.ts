/**
 * Serves the web UI at `/`: web/dist when it was built, else web/public (the placeholder). Paths without
 * a file fall back to index.html so client-side routes survive a reload; /api and /ws never do.
 */
import express, { type Router } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB_DIR = fileURLToPath(new URL('../../web', import.meta.url));

/** The folder served, or undefined when neither web/dist nor web/public exists. */
export function webRoot(base = WEB_DIR): string | undefined {
  return [join(base, 'dist'), join(base, 'public')].find((d) => existsSync(join(d, 'index.html')));
}

export function webUi(root: string): Router {
  const router = express.Router();
  router.use(express.static(root, { index: 'index.html', dotfiles: 'ignore', maxAge: 0 }));
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || /^\/(api|ws)(\/|$)/.test(req.path) || req.path === '/healthz') return next();
    res.sendFile(join(root, 'index.html'));
  });
  return router;
}
