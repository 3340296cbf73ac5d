import { createHash } from 'node:crypto';
import type { SubmitRequest } from '../provider';

/** Everything that decides the pixels of one preview output; same plan → same bytes. */
export interface RenderSpec extends Pick<SubmitRequest, 'prompt' | 'durationSeconds' | 'width' | 'height' | 'fps' | 'seed' | 'n'> {
  imageFile: string | null; // relative to the render folder
  /** Edits and extensions: what to do with `sourceFile` (absent in specs written before they existed). */
  operation?: 'create' | 'edit' | 'extend';
  sourceFile?: string | null; // relative to the render folder
  /** Extensions: seconds of the source kept before the new segment. */
  sourceSeconds?: number | null;
  /** Names of the characters the request cast, shown in the caption. */
  characters?: string[];
}

export const frameCount = (spec: RenderSpec): number => Math.max(1, Math.round(spec.durationSeconds * spec.fps));

/** Word-wraps the prompt to fit the frame; long prompts end in an ellipsis. */
export function wrapPrompt(prompt: string, charsPerLine: number, maxLines: number): string {
  const words = prompt.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const w = word.length > charsPerLine ? `${word.slice(0, charsPerLine - 1)}…` : word;
    if (line && line.length + 1 + w.length > charsPerLine) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] = `${lines[maxLines - 1]!.slice(0, charsPerLine - 1)}…`;
  }
  return lines.join('\n');
}

function palette(spec: RenderSpec, index: number): string[] {
  const h = createHash('sha256')
    .update(`${spec.seed}:${index}:${spec.prompt ?? ''}`)
    .digest();
  return [0, 1, 2].map((i) => `0x${h.subarray(i * 3, i * 3 + 3).toString('hex')}`);
}

export interface OutputPlan {
  args: string[];
  /** Text files the filter graph reads, to write beside the render. */
  textFiles: Record<string, string>;
  /** The same ffmpeg process also writes the thumbnail and spritesheet asked for. */
  makesImages: boolean;
}

/** Where a render writes an output's thumbnail and spritesheet. */
export interface ImageFiles {
  thumbnail: string;
  spritesheet: string;
}

/**
 * Largest clip (raw yuv420p bytes of all its frames) whose images are made by the video's own
 * ffmpeg process. The spritesheet's tile is only written once its last frame is in, and ffmpeg
 * holds the video's frames back until then: memory grows with the clip and the render's progress
 * stays at 0 to the end. For a clip this small that is a few MB and a fraction of a second, while
 * starting a second ffmpeg costs ~85 ms of CPU, most of what a tiny render costs.
 */
const FUSED_IMAGES_MAX_RAW_BYTES = 8 * 1024 * 1024;

const rawBytes = (spec: RenderSpec): number => frameCount(spec) * spec.width * spec.height * 1.5;

/**
 * ffmpeg arguments for output `index` (run with the render folder as working directory). Given
 * `images`, a small create also writes them (see FUSED_IMAGES_MAX_RAW_BYTES); otherwise they are
 * left to planImages.
 */
export function planOutput(spec: RenderSpec, index: number, fontFile: string | null, outFile: string, progressFile: string, images?: ImageFiles): OutputPlan {
  const frames = frameCount(spec);
  const { fps } = spec;
  const promptFile = promptFileOf(index);
  const captionFile = captionFileOf(index);
  const textFiles = createTextFiles(spec, index);
  if (spec.sourceFile && (spec.operation === 'edit' || spec.operation === 'extend')) {
    const { font, fontSize, small } = textStyle(spec, fontFile);
    return {
      args: fromSource(spec, font, fontSize, small, promptFile, captionFile, outFile, progressFile),
      textFiles: sourceTextFiles(spec, textFiles, promptFile, captionFile),
      makesImages: false,
    };
  }
  const { input, filter } = createChain(spec, index, fontFile, '');
  const head = ['-y', '-nostdin', '-v', 'error', '-threads', '2', ...input];
  if (images && fusesImages(spec)) {
    const graph = `[0:v]${filter},split=3[v][i0][i1];${imageGraph(frames, 'i0', 'i1')}`;
    const args = [...head, '-filter_complex', graph, '-map', '[v]', ...encode(frames, fps, progressFile, outFile), ...imageOutputs(images)];
    return { args, textFiles, makesImages: true };
  }
  return { args: [...head, '-vf', filter, ...encode(frames, fps, progressFile, outFile)], textFiles, makesImages: false };
}

const promptFileOf = (index: number): string => `prompt-${index}.txt`;
const captionFileOf = (index: number): string => `caption-${index}.txt`;

/** The drawtext font option and the prompt's and captions' sizes for a frame of this size. */
function textStyle(spec: RenderSpec, fontFile: string | null): { font: string; fontSize: number; small: number } {
  const fontSize = Math.max(12, Math.round(Math.min(spec.width, spec.height) / 16));
  return {
    font: fontFile ? `fontfile='${fontFile.replace(/'/g, '')}':` : '',
    fontSize,
    small: Math.max(10, Math.round(fontSize * 0.55)),
  };
}

/** The text files a create's filters read (its prompt and caption), by name. */
function createTextFiles(spec: RenderSpec, index: number): Record<string, string> {
  const { width: w, height: h, fps } = spec;
  const { fontSize } = textStyle(spec, null);
  const charsPerLine = Math.max(8, Math.floor((w * 0.85) / (fontSize * 0.6)));
  return {
    [promptFileOf(index)]: spec.prompt ? wrapPrompt(spec.prompt, charsPerLine, 6) : '(image to video)',
    [captionFileOf(index)]:
      `seed ${spec.seed} | ${w}x${h} | ${fps} fps | ${spec.durationSeconds}s | video ${index + 1}/${spec.n}` +
      (spec.characters?.length ? `\nwith ${spec.characters.join(', ')}` : ''),
  };
}

/** A create's input and filter chain for output `index`; its text files are read from `dir` (a path prefix, '' for the working directory). */
function createChain(spec: RenderSpec, index: number, fontFile: string | null, dir: string): { input: string[]; filter: string } {
  const frames = frameCount(spec);
  const { width: w, height: h, fps } = spec;
  const { font, fontSize, small } = textStyle(spec, fontFile);
  const [c0, c1, c2] = palette(spec, index);
  // User text is read from files with expansion off: drawtext would otherwise evaluate `%{…}`
  // (expressions, loops) inside a prompt. Only the timecode line, which is ours, expands.
  const text =
    `drawtext=${font}textfile=${dir}${promptFileOf(index)}:expansion=none:fontsize=${fontSize}:fontcolor=white:line_spacing=${Math.round(fontSize / 4)}` +
    `:box=1:boxcolor=black@0.45:boxborderw=${Math.round(fontSize / 3)}:x=(w-text_w)/2:y=(h-text_h)/2,` +
    `drawtext=${font}textfile=${dir}${captionFileOf(index)}:expansion=none:fontsize=${small}:fontcolor=white:x=${small}:y=${small},` +
    `drawtext=${font}text='%{pts\\:hms}  frame %{frame_num}':fontsize=${small}:fontcolor=white:x=${small}:y=h-${small * 2}`;

  const input = spec.imageFile
    ? ['-i', `${dir}${spec.imageFile}`]
    : ['-f', 'lavfi', '-i', `gradients=s=${w}x${h}:r=${fps}:c0=${c0}:c1=${c1}:c2=${c2}:nb_colors=3:seed=${(spec.seed + index) % 4294967296}:speed=0.015`];
  // Image input: cover the frame, then a slow zoom towards the centre over the whole clip.
  const zoom =
    `scale=${w}:${h}:force_original_aspect_ratio=increase,crop=${w}:${h},setsar=1,` +
    `zoompan=z='1+0.25*on/${frames}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=${frames}:s=${w}x${h}:fps=${fps},`;
  return { input, filter: (spec.imageFile ? zoom : '') + text };
}

/** A create whose images its own ffmpeg process writes (see FUSED_IMAGES_MAX_RAW_BYTES). */
const fusesImages = (spec: RenderSpec): boolean => rawBytes(spec) <= FUSED_IMAGES_MAX_RAW_BYTES;

/**
 * Renders that one ffmpeg process may make together: small one-video creates, for which starting
 * ffmpeg (~50 ms of CPU: it loads some 200 libraries) costs more than the clip itself.
 */
export const joinsGroup = (spec: RenderSpec): boolean => spec.n === 1 && (spec.operation ?? 'create') === 'create' && !spec.sourceFile && fusesImages(spec);

/**
 * One ffmpeg process for several queued renders (each `joinsGroup`), run in the first one's
 * folder: each member's video and images go to its own folder (`dir`, relative to the first) as
 * the `.tmp` files its own script would write, from the same inputs and filters, so its bytes are
 * what a render of its own makes. The members' scripts then keep them and record the exit.
 */
export function planGroup(members: { spec: RenderSpec; dir: string }[], fontFile: string | null): string[] {
  const inputs: string[] = [];
  const graphs: string[] = [];
  const outputs: string[] = [];
  members.forEach(({ spec, dir }, k) => {
    const { input, filter } = createChain(spec, 0, fontFile, dir);
    const frames = frameCount(spec);
    inputs.push('-threads', '2', ...input);
    graphs.push(`[${k}:v]${filter},split=3[v${k}][i${k}a][i${k}b];${imageGraph(frames, `i${k}a`, `i${k}b`, `t${k}`, `s${k}`)}`);
    outputs.push('-map', `[v${k}]`, ...encodeVideo(frames, spec.fps), '-f', 'mp4', `${dir}out-0.tmp.mp4`);
    outputs.push(...imageOutputs({ thumbnail: `${dir}thumb-0.tmp.jpg`, spritesheet: `${dir}sprite-0.tmp.jpg` }, `t${k}`, `s${k}`));
  });
  return ['-y', '-nostdin', '-v', 'error', ...inputs, '-filter_complex', graphs.join(';'), ...outputs, '-nostats'];
}

/** Thumbnail (the middle frame) on [t], spritesheet (25 frames spread over the clip, 160 px wide, 5x5) on [s] (or the labels given). */
function imageGraph(frames: number, thumbIn: string, sheetIn: string, thumbOut = 't', sheetOut = 's'): string {
  const step = Math.max(1, Math.floor(frames / 25));
  return `[${thumbIn}]select='eq(n\\,${Math.floor(frames / 2)})'[${thumbOut}];[${sheetIn}]select='not(mod(n\\,${step}))',scale=160:-2,tile=5x5[${sheetOut}]`;
}

const imageOutputs = ({ thumbnail, spritesheet }: ImageFiles, thumbIn = 't', sheetIn = 's'): string[] => {
  const jpeg = (quality: number, out: string) => ['-frames:v', '1', '-q:v', String(quality), '-f', 'image2', '-c:v', 'mjpeg', out];
  return ['-map', `[${thumbIn}]`, ...jpeg(3, thumbnail), '-map', `[${sheetIn}]`, ...jpeg(4, spritesheet)];
};

/**
 * ffmpeg arguments that make a finished output's thumbnail (its middle frame) and spritesheet
 * (25 frames spread over the clip, 160 px wide, 5x5) in one process, as finalize would make them,
 * so the render's slot covers them and finalize only copies files.
 */
export function planImages(spec: RenderSpec, video: string, images: ImageFiles): string[] {
  const graph = `[0:v]split=2[a][b];${imageGraph(frameCount(spec), 'a', 'b')}`;
  return ['-y', '-nostdin', '-v', 'error', '-i', video, '-filter_complex', graph, ...imageOutputs(images)];
}

// prettier-ignore
const encodeVideo = (frames: number, fps: number): string[] => [
  '-frames:v', String(frames), '-r', String(fps),
  '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p',
  '-movflags', '+faststart', '-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1',
];

const encode = (frames: number, fps: number, progressFile: string, outFile: string): string[] => [
  ...encodeVideo(frames, fps),
  ...['-progress', progressFile, '-nostats', '-f', 'mp4', outFile],
];

/** Frames of the source an extension keeps (whole frames at the output rate). */
export const sourceFrameCount = (spec: RenderSpec): number => Math.max(1, Math.round((spec.sourceSeconds ?? 0) * spec.fps));

function sourceTextFiles(spec: RenderSpec, textFiles: Record<string, string>, promptFile: string, captionFile: string): Record<string, string> {
  const { width: w, height: h, fps } = spec;
  const caption =
    spec.operation === 'edit'
      ? `edit | seed ${spec.seed} | ${w}x${h} | ${fps} fps | ${spec.durationSeconds}s`
      : `extension +${Math.round((spec.durationSeconds - (spec.sourceSeconds ?? 0)) * 1000) / 1000}s | seed ${spec.seed} | ${w}x${h} | ${fps} fps`;
  return { ...textFiles, [promptFile]: textFiles[promptFile]!, [captionFile]: caption };
}

/**
 * An edit: every frame of the source, scaled to the task's size and rate, with a visible change
 * (hue turned, a frame drawn) and the new prompt as its caption. An extension: the source as it
 * is, then a new segment in the style of a fresh render, concatenated into one stream; the
 * timecode is drawn after the concat, so on the new segment it continues from the source's end.
 * Prompts reach ffmpeg only through text files read with expansion off, as in a create.
 */
function fromSource(
  spec: RenderSpec,
  font: string,
  fontSize: number,
  small: number,
  promptFile: string,
  captionFile: string,
  outFile: string,
  progressFile: string,
): string[] {
  const frames = frameCount(spec);
  const { width: w, height: h, fps } = spec;
  const fit = `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps}`;
  const promptText =
    `drawtext=${font}textfile=${promptFile}:expansion=none:fontsize=${fontSize}:fontcolor=white:line_spacing=${Math.round(fontSize / 4)}` +
    `:box=1:boxcolor=black@0.45:boxborderw=${Math.round(fontSize / 3)}:x=(w-text_w)/2:y=(h-text_h)/2`;
  const caption = `drawtext=${font}textfile=${captionFile}:expansion=none:fontsize=${small}:fontcolor=white:box=1:boxcolor=black@0.6:x=${small}:y=${small}`;
  const timecode = (enable: string) =>
    `drawtext=${font}text='%{pts\\:hms}  frame %{frame_num}':fontsize=${small}:fontcolor=white:box=1:boxcolor=black@0.6:x=${small}:y=h-${small * 2}${enable}`;
  const head = ['-y', '-nostdin', '-v', 'error', '-threads', '2', '-i', spec.sourceFile!];
  if (spec.operation === 'edit') {
    // The source is padded with its last frame, so a source a frame short still fills the clip.
    const border = Math.max(2, Math.round(Math.min(w, h) / 40));
    const vf = `${fit},tpad=stop_mode=clone:stop=${frames},hue=h=150:s=1.3,drawbox=x=0:y=0:w=iw:h=ih:color=0xffcc00:t=${border},${promptText},${caption},${timecode('')}`;
    return [...head, '-vf', vf, ...encode(frames, fps, progressFile, outFile)];
  }
  const kept = sourceFrameCount(spec);
  const added = Math.max(1, frames - kept);
  const [c0, c1, c2] = palette(spec, 0);
  const graph =
    `[0:v]${fit},tpad=stop_mode=clone:stop=${kept},trim=end_frame=${kept},setpts=PTS-STARTPTS[src];` +
    `[1:v]${promptText},${caption},setsar=1[new];` +
    `[src][new]concat=n=2:v=1:a=0,${timecode(`:enable='gte(n,${kept})'`)}[out]`;
  // prettier-ignore
  return [
    ...head,
    '-f', 'lavfi', '-i', `gradients=s=${w}x${h}:r=${fps}:c0=${c0}:c1=${c1}:c2=${c2}:nb_colors=3:seed=${spec.seed % 4294967296}:speed=0.015:d=${(added / fps).toFixed(6)}`,
    '-filter_complex', graph, '-map', '[out]',
    ...encode(kept + added, fps, progressFile, outFile),
  ];
}
