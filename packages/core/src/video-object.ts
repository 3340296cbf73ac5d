import type { TaskStatus } from './task-state';

export type StatusDialect = 'seed' | 'openai';

/** The fields of a stored task that the video object shows. */
export interface TaskView {
  id: string;
  model: string;
  status: TaskStatus;
  progress: number;
  createdAt: Date;
  completedAt: Date | null;
  expiresAt: Date;
  durationSeconds: number;
  width: number;
  height: number;
  fps: number;
  seed: bigint | number;
  n: number;
  prompt: string | null;
  user: string | null;
  metadata: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  remixedFromId: string | null;
  /** Settled charge in micro-units; null until the task completes and is charged. */
  costMicros?: bigint | null;
}

export interface VideoResult {
  url?: string;
  urls?: string[];
  b64_json?: string | string[] | null;
  b64_json_error?: { code: string; message: string };
}

const openaiStatus: Record<TaskStatus, string> = {
  pending: 'queued',
  processing: 'in_progress',
  completed: 'completed',
  failed: 'failed',
};

const unix = (d: Date | null): number | null => (d ? Math.floor(d.getTime() / 1000) : null);

/** "10.0" in the seed's words, "10" in OpenAI's; fractional durations keep their digits. */
export function formatSeconds(seconds: number, dialect: StatusDialect): string {
  if (Number.isInteger(seconds)) return dialect === 'seed' ? seconds.toFixed(1) : String(seconds);
  return String(seconds);
}

export function toVideoObject(task: TaskView, dialect: StatusDialect, result: VideoResult = {}): Record<string, unknown> {
  const extended = typeof task.metadata === 'object' && task.metadata !== null ? (task.metadata as Record<string, unknown>) : {};
  return {
    id: task.id,
    object: 'video',
    model: task.model,
    status: dialect === 'openai' ? openaiStatus[task.status] : task.status,
    progress: task.progress,
    created_at: unix(task.createdAt),
    seconds: formatSeconds(task.durationSeconds, dialect),
    completed_at: unix(task.completedAt),
    expires_at: unix(task.expiresAt),
    size: `${task.width}x${task.height}`,
    error: task.status === 'failed' ? { message: task.errorMessage ?? 'Video generation failed', code: task.errorCode ?? 'upstream_error' } : null,
    metadata: { ...extended, fps: task.fps, seed: Number(task.seed) },
    prompt: task.prompt,
    user: task.user,
    n: task.n,
    remixed_from_video_id: task.remixedFromId,
    cost_micros: task.costMicros === null || task.costMicros === undefined ? null : Number(task.costMicros),
    ...result,
  };
}
