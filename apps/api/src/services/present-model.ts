import { modelUpstream, type ModelSpec } from '@reelay/core';

/** A catalog model in OpenAI's model-object shape, plus its limits, defaults and capabilities. */
export function toModelObject(model: ModelSpec, created: number): Record<string, unknown> {
  return {
    id: model.id,
    object: 'model',
    created,
    owned_by: 'reelay',
    description: model.description,
    limits: {
      seconds: model.duration,
      size: 'values' in model.size ? { values: model.size.values } : { ...model.size, even_only: true },
      fps: model.fps,
      max_n: model.maxN,
    },
    defaults: {
      seconds: model.defaults.duration,
      size: `${model.defaults.width}x${model.defaults.height}`,
      fps: model.defaults.fps,
    },
    capabilities: { image_input: model.acceptsImage, remix: model.supportsRemix },
    // Says plainly when the built-in preview renderer (not a real model) serves the model.
    upstream: modelUpstream(model),
  };
}
