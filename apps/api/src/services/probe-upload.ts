import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError, invalidParameter, serviceUnavailable } from '@reelay/core';
import { probeUpload } from '@reelay/providers';
import type { ApiDeps } from '../deps';

export interface ProbedVideo {
  width: number;
  height: number;
  fps: number;
  durationSeconds: number;
}

const WHY: Record<string, string> = {
  not_mp4: 'must be an MP4 file',
  no_video: 'must be an MP4 file with a video track',
  undecodable: 'must be an MP4 whose video decodes: its data is damaged or incomplete',
  timeout: 'could not be read in time',
};

/**
 * An uploaded source video, checked before any task or row exists: an MP4 (its `ftyp` box first)
 * with a decodable video track, within the duration cap. A bad one is a 400 on `param`; ffprobe's
 * own words go to the log only.
 */
export async function probeUploadedVideo(deps: ApiDeps, data: Buffer, param: string): Promise<ProbedVideo> {
  if (data.length < 12 || data.subarray(4, 8).toString('latin1') !== 'ftyp') throw invalidParameter(param, WHY.not_mp4!);
  const dir = await deps.storage.scratchDir('upload');
  try {
    const file = join(dir, 'video.mp4');
    await writeFile(file, data);
    const tools = { ffmpegPath: deps.config.FFMPEG_PATH, ffprobePath: deps.config.FFPROBE_PATH };
    const probed = await probeUpload(tools, file, deps.config.REELAY_IMAGE_CHECK_TIMEOUT_MS);
    if (!probed.ok) {
      if (probed.reason === 'unavailable') {
        deps.logger.error({ detail: probed.detail }, 'uploaded video check: ffprobe could not be run');
        throw serviceUnavailable('Video uploads cannot be checked right now; try again later', 30);
      }
      deps.logger.info({ param, reason: probed.reason, detail: probed.detail }, 'uploaded video refused');
      throw invalidParameter(param, WHY[probed.reason]!);
    }
    const max = deps.config.REELAY_MAX_VIDEO_UPLOAD_SECONDS;
    if (probed.durationSeconds > max) {
      throw new ApiError(
        400,
        'invalid_parameter',
        `Invalid parameter: ${param} is ${probed.durationSeconds.toFixed(2)} s long; at most ${max} s is accepted`,
        param,
      );
    }
    return probed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
