import { readFileSync } from 'node:fs';

/**
 * A ComfyUI workflow in API format (node id → {class_type, inputs}) with placeholders where a
 * task's values go: an input that is exactly "{{seed}}" becomes the number, one that contains
 * "{{prompt}}" among other text gets the text spliced in.
 */
export type Workflow = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }>;

const PLACEHOLDERS = ['prompt', 'negative_prompt', 'seed', 'width', 'height', 'frames', 'fps', 'duration', 'image'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
export type TemplateValues = Record<Placeholder, string | number>;

const PATTERN = /\{\{\s*([a-z_]+)\s*\}\}/g;

/** Every placeholder the workflow uses. */
export function placeholdersOf(workflow: Workflow): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(PATTERN)) found.add(m[1]!);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const node of Object.values(workflow)) walk(node.inputs);
  return found;
}

/**
 * The workflow of a catalog target (options.workflow inline, or options.workflowFile), checked
 * once at start-up so a broken template is an error naming the option, not a failed task.
 */
export function workflowFromOptions(options: Record<string, unknown>): { workflow: Workflow; outputNode?: string } {
  const where = options.workflowFile !== undefined ? 'options.workflowFile' : 'options.workflow';
  let raw: unknown = options.workflow;
  if (options.workflowFile !== undefined) {
    if (typeof options.workflowFile !== 'string' || !options.workflowFile) throw new Error('model catalog: comfyui options.workflowFile must be a file path');
    try {
      raw = JSON.parse(readFileSync(options.workflowFile, 'utf8'));
    } catch (err) {
      throw new Error(`model catalog: comfyui options.workflowFile ${options.workflowFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  const fail = (why: string): never => {
    throw new Error(`model catalog: comfyui ${where} ${why}`);
  };
  if (raw === undefined) fail('is required: a workflow in ComfyUI API format (Export (API) in ComfyUI)');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0)
    fail('must be an object of nodes (node id → {class_type, inputs})');
  for (const [id, node] of Object.entries(raw as Record<string, unknown>)) {
    const n = node as { class_type?: unknown; inputs?: unknown } | null;
    if (!n || typeof n.class_type !== 'string' || !n.inputs || typeof n.inputs !== 'object' || Array.isArray(n.inputs)) {
      fail(`node "${id}" must have a class_type and an inputs object (is it the API format export?)`);
    }
  }
  const workflow = raw as Workflow;
  const used = placeholdersOf(workflow);
  const unknown = [...used].filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length)
    fail(
      `uses unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')} (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`,
    );
  if (!used.has('prompt')) fail('has no {{prompt}} placeholder: put it where the prompt text goes (e.g. a CLIPTextEncode text input)');
  const outputNode = options.outputNode;
  if (outputNode !== undefined && (typeof outputNode !== 'string' || !workflow[outputNode])) {
    throw new Error(`model catalog: comfyui options.outputNode must be the id of a node in ${where}`);
  }
  return { workflow, outputNode: outputNode as string | undefined };
}

/** A copy of the workflow with the task's values in place of the placeholders. */
export function fillWorkflow(workflow: Workflow, values: TemplateValues): Workflow {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = /^\{\{\s*([a-z_]+)\s*\}\}$/.exec(v);
      if (whole) return values[whole[1] as Placeholder];
      return v.replace(PATTERN, (_m, name: string) => String(values[name as Placeholder]));
    }
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(workflow).map(([id, node]) => [id, { ...node, inputs: fill(node.inputs) as Record<string, unknown> }]));
}
