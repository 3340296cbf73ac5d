import express, { Router } from 'express';
import { dirname, join } from 'node:path';
import type { ApiDeps } from '../deps';
import { adminRouter } from './admin';

/** The console's own files (apps/api/console), found from this file in src/ or a compiled dist/. */
const CONSOLE_DIR = join(__dirname, '..', '..', 'console');
/** The browser modules the console imports, served from node_modules as shipped: nothing is built, nothing comes from a CDN. */
// Each package's main file lies in its dist/ folder, beside the browser builds (their exports hide the rest).
const VENDOR: Record<string, string> = {
  'preact.js': join(dirname(require.resolve('preact')), 'preact.module.js'),
  'hooks.js': join(dirname(require.resolve('preact')), '..', 'hooks', 'dist', 'hooks.module.js'),
  'htm.js': join(dirname(require.resolve('htm')), 'htm.module.js'),
  'chart.js': join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
};

/**
 * /console: the operator's web console (behind the admin auth mounted in app.ts). Its pages call
 * the admin API at /console/api/v1, below /console, where the browser sends the same Basic
 * credentials it was asked for once.
 */
export function consoleRouter(deps: ApiDeps): Router {
  const router = Router();
  router.use('/api/v1', adminRouter(deps));
  router.get('/vendor/:file', (req, res, next) => {
    const file = VENDOR[String(req.params.file)];
    if (!file) return next();
    res.type('application/javascript').setHeader('cache-control', 'public, max-age=3600');
    res.sendFile(file, { dotfiles: 'allow' }); // pnpm keeps packages under node_modules/.pnpm
  });
  router.use('/assets', express.static(CONSOLE_DIR, { index: false, maxAge: '5m' }));
  router.get(['/', '/index.html'], (_req, res) => {
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(join(CONSOLE_DIR, 'index.html'));
  });
  return router;
}
