/** Every task query: reads, creates, polls, outputs, lifecycle moves and admission. */
export * from './columns';
export * from './read';
export * from './create';
export * from './poll';
export * from './outputs';
export * from './lifecycle';
export * from './admission';
export * from './phase-sql';
export * from './events';
export type { Task, TaskOutput } from '../generated/prisma/client';
export * from './admin';
export * from './batch';
