import express, { Router } from 'express';
import { dirname } from 'node:path';
import { LOCAL_DEVELOPMENT_KEY } from '@reelay/config';
import type { ApiDeps } from '../deps';
import { buildOpenApiDocument } from '../openapi/document';

// Swagger UI's static build (swagger-ui-dist), served from node_modules: plain files that load no
// fonts or scripts from a CDN, so the page works offline. Its install-time telemetry script is
// not allowed to run (pnpm-workspace.yaml).
const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Reelay API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

/**
 * The page's script. validatorUrl null: Swagger UI would otherwise send the document to
 * validator.swagger.io. Only the public local development key is ever prefilled; any other key is
 * typed into Authorize by the reader and never leaves their browser except in their own requests.
 */
function initScript(prefilledKey: string | null): string {
  const options = `url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null, displayRequestDuration: true`;
  const onComplete = prefilledKey ? `, onComplete: () => window.ui.preauthorizeApiKey('bearerAuth', ${JSON.stringify(prefilledKey)})` : '';
  return `window.ui = SwaggerUIBundle({ ${options}${onComplete} });\n`;
}

/** GET /openapi.json and GET /docs; no API key needed. */
export function docsRouter(deps: ApiDeps): Router {
  const router = Router();
  const document = JSON.stringify(buildOpenApiDocument());
  const { REELAY_BOOTSTRAP_KEY, NODE_ENV } = deps.config;
  const init = initScript(REELAY_BOOTSTRAP_KEY === LOCAL_DEVELOPMENT_KEY && NODE_ENV !== 'production' ? LOCAL_DEVELOPMENT_KEY : null);

  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(init);
  });
  router.use('/docs/assets', express.static(SWAGGER_UI_DIR, { index: false, maxAge: '1h' }));
  return router;
}
