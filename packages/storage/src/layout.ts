/**
 * Where a task's objects live in storage: everything of a task sits under two prefixes, its
 * outputs and its inputs, so removing a task's files is two removes whatever it produced.
 */
export type OutputVariantName = 'video' | 'thumbnail' | 'spritesheet';

export const taskKeys = {
  outputs: (taskId: string): string => `videos/${taskId}`,
  inputs: (taskId: string): string => `inputs/${taskId}`,
  /** Fixed per (task, index, variant), so a retried finalize overwrites. */
  output: (taskId: string, index: number, variant: OutputVariantName): string =>
    `videos/${taskId}/${index}/${variant === 'video' ? 'video.mp4' : `${variant}.jpg`}`,
  /** The input image, by its type's extension (png, jpeg, webp). */
  inputImage: (taskId: string, ext: string): string => `inputs/${taskId}/image.${ext}`,
  /** The task's own copy of the video an edit or extension starts from (kept if the source is deleted). */
  sourceVideo: (taskId: string): string => `inputs/${taskId}/source.mp4`,
};

/** A character's reference video, by character id (removed with the key's data, not with a task). */
export const characterKeys = {
  video: (characterId: string): string => `characters/${characterId}/video.mp4`,
};

/** Removes every stored object of a task (outputs and inputs); a no-op for what is already gone. */
export async function removeTaskFiles(storage: { remove(prefix: string): Promise<void> }, taskId: string): Promise<void> {
  await storage.remove(taskKeys.outputs(taskId));
  await storage.remove(taskKeys.inputs(taskId));
}

/** Uploaded and batch-written files (POST /v1/files, batch output and error files): one object per file id. */
export const fileKeys = {
  content: (fileId: string): string => `files/${fileId}/content`,
};
