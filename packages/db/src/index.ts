export * from './client';
export * from './migrate';
export * from './tasks';
export * from './keys';
export { Prisma } from './generated/prisma/client';
export * from './billing';
export * from './usage';
export * from './settings';
export * from './tasks/reconcile';
