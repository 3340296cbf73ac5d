import { admissionChannel, enqueueTask, type createRedis, type TaskJob } from '@reelay/queue';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context';

type Redis = ReturnType<typeof createRedis>;

/** One admitter at a time across every worker process (pg advisory lock number). */
const ADMISSION_LOCK = 72707370;
/** Waiting for another process's admission run to finish is normal: be patient. */
const ADMISSION_TX_OPTIONS = { maxWait: 15_000, timeout: 60_000 } as const;

interface KeyTurn {
  id: string;
  max_concurrent: number | null;
  live: number;
}

/**
 * Gives waiting tasks their slots, fairly. A task stays `pending` (costing no worker capacity)
 * until admitted; a task holds a slot from admission until it ends, counted straight from task
 * state, so a crashed worker cannot leak one: its task is still live and is resumed by another.
 *
 * Keys take turns: each turn admits one task of the key that has waited longest since its last
 * admission (api_keys.last_admitted_at), skipping keys at their max_concurrent and tasks whose
 * provider is at its REELAY_PROVIDER_CONCURRENCY limit. So a key with thousands queued gets one
 * slot per turn, like any other key with work waiting. All state is in Postgres; the job is only
 * queued after the commit, and the reconciler re-queues admitted tasks whose job went missing.
 * Only tasks created under this worker's queue prefix are admitted (they are served from its queue)
 * and provider slots are counted per prefix; a key's limit counts all its live tasks.
 */
export async function admitPendingTasks(ctx: WorkerContext, maxPerRun = 200): Promise<string[]> {
  const providerLimits = ctx.config.REELAY_PROVIDER_CONCURRENCY ?? {};
  const lane = ctx.config.REELAY_QUEUE_PREFIX;
  return ctx.db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT pg_advisory_xact_lock(${ADMISSION_LOCK})::text`;
    const keys = await tx.$queryRaw<KeyTurn[]>`
      SELECT k.id, k.max_concurrent,
        (SELECT count(*) FROM tasks t WHERE t.api_key_id = k.id
          AND (t.status = 'processing' OR (t.status = 'pending' AND t.admitted_at IS NOT NULL)))::int AS live
      FROM api_keys k
      WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.api_key_id = k.id AND t.status = 'pending' AND t.admitted_at IS NULL
        AND t.queue_prefix = ${lane})
      ORDER BY k.last_admitted_at ASC NULLS FIRST, k.id`;
    if (keys.length === 0) return [];
    const providerLive = new Map<string, number>();
    if (Object.keys(providerLimits).length > 0) {
      const rows = await tx.$queryRaw<{ provider: string; live: number }[]>`
        SELECT provider, count(*)::int AS live FROM tasks
        WHERE (status = 'processing' OR (status = 'pending' AND admitted_at IS NOT NULL)) AND queue_prefix = ${lane}
        GROUP BY provider`;
      for (const r of rows) providerLive.set(r.provider, r.live);
    }
    const admitted: string[] = [];
    /** Keys served in this run, in the order of their last turn (a Set keeps insertion order). */
    const lastTurn = new Set<string>();
    const turns = [...keys];
    let steps = 0;
    while (turns.length > 0 && admitted.length < maxPerRun && steps++ < maxPerRun * 20) {
      const key = turns.shift()!;
      if (key.max_concurrent !== null && key.live >= key.max_concurrent) continue;
      const [task] = await tx.$queryRaw<{ id: string; provider: string }[]>`
        SELECT id, provider FROM tasks WHERE api_key_id = ${key.id} AND status = 'pending' AND admitted_at IS NULL
          AND queue_prefix = ${lane}
        ORDER BY created_at, id LIMIT 1`;
      if (!task) continue;
      const cap = providerLimits[task.provider];
      const busy = providerLive.get(task.provider) ?? 0;
      if (cap !== undefined && busy >= cap) continue;
      const moved = await tx.$executeRaw`UPDATE tasks SET admitted_at = now(), updated_at = now()
        WHERE id = ${task.id} AND status = 'pending' AND admitted_at IS NULL`;
      turns.push(key);
      if (moved !== 1) continue; // failed (cancelled) meanwhile
      providerLive.set(task.provider, busy + 1);
      key.live++;
      admitted.push(task.id);
      lastTurn.delete(key.id);
      lastTurn.add(key.id);
    }
    // Keys are stamped last, in the order of their last turn: holding no key row while task rows
    // are being locked avoids a deadlock with a task closing its money (task row, then key row).
    for (const keyId of lastTurn) {
      await tx.$executeRaw`UPDATE api_keys SET last_admitted_at = clock_timestamp() WHERE id = ${keyId}`;
    }
    return admitted;
  }, ADMISSION_TX_OPTIONS);
}

/**
 * Runs admission when asked (a create announced on Redis, a task of this process ended) and on a
 * timer as the fallback; requests that arrive while a run is in progress fold into one more run.
 */
export class Admitter {
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly queue: Queue<TaskJob>,
    private readonly subscriber: Redis,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', () => this.wake());
    await this.subscriber.subscribe(admissionChannel(this.ctx.config.REELAY_QUEUE_PREFIX));
    this.timer = setInterval(() => this.wake(), this.ctx.config.WORKER_ADMISSION_INTERVAL_MS);
    this.timer.unref();
    this.wake();
  }

  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const ids = await this.admitOnce();
        if (ids.length > 0) this.again = true; // there may be more than one run's worth waiting
      } while (this.again && !this.closed);
    } finally {
      this.running = false;
    }
  }

  private async admitOnce(): Promise<string[]> {
    try {
      const ids = await admitPendingTasks(this.ctx);
      // The job carries the create's request id, so the worker's log lines for the task can be joined to it.
      const rows = ids.length ? await this.ctx.db.task.findMany({ where: { id: { in: ids } }, select: { id: true, requestId: true } }) : [];
      const requestIds = new Map(rows.map((r) => [r.id, r.requestId ?? undefined]));
      for (const taskId of ids) await enqueueTask(this.queue, { taskId, requestId: requestIds.get(taskId) });
      return ids;
    } catch (err) {
      // The timer retries; an admitted task whose job was not queued is found by the reconciler.
      if (!this.closed) this.ctx.logger.error({ err }, 'admission failed');
      return [];
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    this.subscriber.disconnect();
  }
}
