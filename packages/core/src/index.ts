export * from './errors';
export * from './ids';
export * from './task-state';
export * from './catalog';
export * from './image';
export * from './create-request';
export * from './video-object';
export * from './pricing';
export * from './key-settings';

export * from './webhook-signature';
export * from './signed-links';
export * from './list-request';
export * from './input-guard';
export * from './batch-line';
export * from './time-slice';
