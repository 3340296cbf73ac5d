/**
 * The private test kit: provider emulators on one kit, and the helpers every suite uses to run
 * Reelay's processes and talk to them. Only tests and benches import it.
 */
export {
  Emulator,
  EmulatorServer,
  ServedFiles,
  sendBytes,
  sendJson,
  type Handler,
  type Interruption,
  type LoggedRequest,
  type ServerOptions,
} from './emulators/kit';
export { OpenAIVideosEmulator, emulatedContent, type EmulatorBehaviour, type EmulatorRoute, type VideosCall } from './emulators/openai-compatible';
export { FalEmulator, type EmulatedFalRequest, type FalEmulatorOptions } from './emulators/fal';
export { ReplicateEmulator, type EmulatedPrediction, type ReplicateEmulatorOptions } from './emulators/replicate';
export { VeoEmulator, type EmulatedOperation, type VeoEmulatorOptions } from './emulators/gemini-veo';
export { RunwayEmulator, type EmulatedRunwayTask, type RunwayEmulatorOptions } from './emulators/runway';
export { LumaEmulator, type EmulatedGeneration, type LumaEmulatorOptions } from './emulators/luma';
export { SeedanceEmulator, type EmulatedArkTask, type SeedanceEmulatorOptions } from './emulators/seedance';
export { KlingEmulator, type EmulatedKlingTask, type KlingEmulatorOptions } from './emulators/kling';
export { MiniMaxEmulator, type EmulatedMiniMaxTask, type MiniMaxEmulatorOptions } from './emulators/minimax';
export { ComfyUIEmulator, type EmulatedPrompt, type ComfyUIEmulatorOptions } from './emulators/comfyui';
export { until, untilHealthy, rejection } from './until';
export { bytesOf } from './streams';
export { ADMIN_TOKEN, adminKey, createVideo, http, waitForVideo, type HttpResult } from './http';
export { capturingLogger } from './logging';
export { ROOT, freePort, previewRenderDir, spawnApi, spawnProcess, spawnTs, spawnWorker, stopPreviewRenders, type Exit, type Spawned } from './processes';
export { averageColor, isJpeg, isMp4, probe, solidImage, solidPng, testMp4 } from './media';
export { emulatedModel, emulatorTarget, fixedShapeModel, TINY, tinyCatalogFile, writeEmulatorCatalog, writeTestCatalog } from './catalogs';
export { OwnRedis } from './own-redis';
export { pollToEnd, pollUntilEnded, submitRequest } from './provider-requests';
export { S3TestServer } from './s3-server';
export { webhookReceiver, type ReceivedWebhook } from './webhook-receiver';
