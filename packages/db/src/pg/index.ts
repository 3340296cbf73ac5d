export * from './rows';
export * from './batching';
