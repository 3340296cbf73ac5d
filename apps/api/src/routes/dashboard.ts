import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import type { ApiDeps } from '../deps';

export const DASHBOARD_PATH = '/admin/queues';

/** bull-board over every Reelay queue; read-only unless REELAY_DASHBOARD_WRITE=true. */
export function dashboardRouter(deps: ApiDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const readOnlyMode = !deps.config.REELAY_DASHBOARD_WRITE;
  createBullBoard({
    queues: deps.queues.map((q) => new BullMQAdapter(q, { readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Reelay queues' } },
  });
  return serverAdapter.getRouter() as Router;
}
