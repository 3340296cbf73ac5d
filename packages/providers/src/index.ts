export * from './provider';
export * from './media';
export * from './registry';
export { PreviewProvider, type PreviewOptions } from './preview/preview-provider';
export { planOutput, frameCount, wrapPrompt, type RenderSpec } from './preview/render-plan';
export { instrumentProvider } from './instrument';
