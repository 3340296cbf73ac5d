export * from './provider';
export * from './media';
export * from './registry';
export { PreviewProvider, type PreviewOptions } from './preview/preview-provider';
export { planOutput, frameCount, wrapPrompt, type RenderSpec } from './preview/render-plan';
export * from './errors';
export * from './http';
export { OpenAICompatibleProvider, DEFAULT_OPENAI_BASE_URL } from './openai-compatible/openai-compatible-provider';
export { OpenAIVideosEmulator, emulatedContent, type EmulatorBehaviour, type EmulatorRequest, type EmulatorRoute } from './openai-compatible/emulator';
