import { admissionChannel, enqueueTasks, type createRedis, type TaskJob } from '@reelay/queue';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context';

type Redis = ReturnType<typeof createRedis>;

/** One admitter at a time across every worker process (pg advisory lock number). */
const ADMISSION_LOCK = 72707370;
/** Waiting for another process's admission run to finish is normal: be patient. */
const ADMISSION_TX_OPTIONS = { maxWait: 15_000, timeout: 60_000 } as const;
/** Tasks one run admits at most (one statement, one addBulk). */
const MAX_PER_RUN = 1000;

interface Admitted {
  id: string;
  api_key_id: string;
  request_id: string | null;
}

/**
 * Gives waiting tasks their slots, fairly. A task stays `pending` (costing no worker capacity)
 * until admitted; a task holds a slot from admission until it ends, counted straight from task
 * state, so a crashed worker cannot leak one: its task is still live and is resumed by another.
 *
 * Keys take turns: in each round every key with work waiting gets one task, the key that has
 * waited longest since its last admission (api_keys.last_admitted_at) first; a key stops at its
 * max_concurrent and a provider at its REELAY_PROVIDER_CONCURRENCY limit. So a key with thousands
 * queued gets one slot per round, like any other key with work waiting. The rounds are computed
 * in one statement (a task's round is its place in its key's queue), so a run admitting hundreds
 * of tasks costs a handful of round trips. All state is in Postgres; jobs are only queued after
 * the commit, and the reconciler re-queues admitted tasks whose job went missing. Only tasks created
 * under this worker's queue prefix are admitted (they are served from its queue) and provider
 * slots are counted per prefix; a key's limit counts all its live tasks.
 */
export async function admitPendingTasks(ctx: WorkerContext, maxPerRun = MAX_PER_RUN): Promise<Admitted[]> {
  return (await admissionRun(ctx, maxPerRun)).admitted;
}

/** One admission run; `backlog` says whether tasks were left waiting (a slot freeing up may admit them). */
async function admissionRun(ctx: WorkerContext, maxPerRun: number): Promise<{ admitted: Admitted[]; backlog: boolean }> {
  const providerLimits = ctx.config.REELAY_PROVIDER_CONCURRENCY ?? {};
  const lane = ctx.config.REELAY_QUEUE_PREFIX;
  return ctx.db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT pg_advisory_xact_lock(${ADMISSION_LOCK})::text`;
    // Free slots per limited provider; a provider missing from the list has no limit.
    const limited = Object.keys(providerLimits);
    const free = new Map(limited.map((p) => [p, providerLimits[p]!]));
    if (limited.length > 0) {
      const rows = await tx.$queryRaw<{ provider: string; live: number }[]>`
        SELECT provider, count(*)::int AS live FROM tasks
        WHERE status IN ('pending', 'processing') AND NOT (status = 'pending' AND admitted_at IS NULL) AND queue_prefix = ${lane}
        GROUP BY provider`;
      for (const r of rows) if (free.has(r.provider)) free.set(r.provider, Math.max(0, free.get(r.provider)! - r.live));
    }
    // Tasks of a provider with no slot left are skipped before each key's LIMIT, so they do not use up
    // the key's room in this run while its tasks for other providers wait.
    const full = limited.filter((p) => free.get(p) === 0);
    const admitted = await tx.$queryRaw<(Admitted & { round: number; key_order: number })[]>`
      WITH waiting_keys AS (
        SELECT k.id, row_number() OVER (ORDER BY k.last_admitted_at ASC NULLS FIRST, k.id)::int AS key_order,
          CASE WHEN k.max_concurrent IS NULL THEN ${maxPerRun}::int ELSE GREATEST(0, k.max_concurrent - (
            SELECT count(*) FROM tasks t WHERE t.api_key_id = k.id AND t.status IN ('pending', 'processing')
              AND NOT (t.status = 'pending' AND t.admitted_at IS NULL))::int) END AS room
        FROM api_keys k
        WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.api_key_id = k.id AND t.status = 'pending' AND t.admitted_at IS NULL
          AND t.queue_prefix = ${lane})
      ),
      candidates AS (
        SELECT c.id, c.provider, w.key_order,
          row_number() OVER (PARTITION BY w.id ORDER BY c.created_at, c.id)::int AS round
        FROM waiting_keys w
        CROSS JOIN LATERAL (
          SELECT t.id, t.provider, t.created_at FROM tasks t
          WHERE t.api_key_id = w.id AND t.status = 'pending' AND t.admitted_at IS NULL AND t.queue_prefix = ${lane}
            AND t.provider <> ALL(${full}::text[])
          ORDER BY t.created_at, t.id
          LIMIT LEAST(w.room, ${maxPerRun}::int)
        ) c
      ),
      ranked AS (
        SELECT c.*, row_number() OVER (PARTITION BY c.provider ORDER BY c.round, c.key_order)::int AS provider_rank
        FROM candidates c
      ),
      chosen AS (
        SELECT r.id, r.round, r.key_order FROM ranked r
        LEFT JOIN unnest(${[...free.keys()]}::text[], ${[...free.values()]}::int[]) AS f(provider, free) ON f.provider = r.provider
        WHERE f.free IS NULL OR r.provider_rank <= f.free
        ORDER BY r.round, r.key_order
        LIMIT ${maxPerRun}::int
      )
      UPDATE tasks t SET admitted_at = now(), updated_at = now()
      FROM chosen
      WHERE t.id = chosen.id AND t.status = 'pending' AND t.admitted_at IS NULL
      RETURNING t.id, t.api_key_id, t.request_id, chosen.round, chosen.key_order`;
    const [{ backlog }] = await tx.$queryRaw<[{ backlog: boolean }]>`SELECT EXISTS (SELECT 1 FROM tasks
      WHERE status = 'pending' AND admitted_at IS NULL AND queue_prefix = ${lane}) AS backlog`;
    if (admitted.length === 0) return { admitted: [], backlog };
    admitted.sort((a, b) => a.round - b.round || a.key_order - b.key_order);
    // Keys are stamped last, in the order of their last turn (so the next run starts with whoever
    // waited longest): holding no key row while task rows are being locked avoids a deadlock with a
    // task closing its money (task row, then key row).
    const lastTurn = new Map<string, number>();
    admitted.forEach((a, i) => lastTurn.set(a.api_key_id, i));
    const keys = [...lastTurn.keys()].sort((a, b) => lastTurn.get(a)! - lastTurn.get(b)!);
    // The column keeps milliseconds, so turns are a millisecond apart, after every earlier stamp.
    await tx.$executeRaw`WITH base AS (
        SELECT GREATEST(statement_timestamp(), (SELECT max(last_admitted_at) FROM api_keys)) AS t
      )
      UPDATE api_keys k SET last_admitted_at = base.t + v.turn * interval '1 millisecond'
      FROM base, unnest(${keys}::text[]) WITH ORDINALITY AS v(id, turn) WHERE k.id = v.id`;
    return { admitted: admitted.map(({ id, api_key_id, request_id }) => ({ id, api_key_id, request_id })), backlog };
  }, ADMISSION_TX_OPTIONS);
}

/** How soon a run that the queue's depth held back looks again. */
const QUEUE_RECHECK_MS = 100;

/**
 * Runs admission when asked (a create announced on Redis, a task of this process ended) and on a
 * timer as the fallback; requests that arrive while a run is in progress fold into one more run.
 * A task ending only triggers a run when the last run left tasks waiting: with none waiting, the
 * freed slot has no taker (and thousands of tasks ending a minute would each cost a run).
 *
 * Admission also keeps the queue short: it admits only while fewer than
 * WORKER_ADMISSION_QUEUE_DEPTH jobs are waiting to start. A due poll joins the back of that same
 * queue, so 10,000 tasks admitted at once would make every poll wait behind 10,000 submits; and
 * a task left pending is still in Postgres' fair order, so a key that shows up later is not stuck
 * behind another key's thousands of queued jobs.
 */
export class Admitter {
  private running = false;
  private again = false;
  private backlog = true;
  private timer: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;
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

  /** A slot was freed: worth a run only if tasks were left waiting. */
  slotFreed(): void {
    if (this.backlog) this.wake();
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
        const run = await this.admitOnce();
        if (run === 'full') this.again = true; // there may be more than one run's worth waiting
        if (run === 'queue-full' && !this.recheck) {
          this.recheck = setTimeout(() => {
            this.recheck = undefined;
            this.wake();
          }, QUEUE_RECHECK_MS);
        }
      } while (this.again && !this.closed);
    } finally {
      this.running = false;
    }
  }

  /** 'full': admitted a whole run's worth; 'queue-full': held back by the queue's depth; 'done' otherwise. */
  private async admitOnce(): Promise<'full' | 'queue-full' | 'done'> {
    try {
      const room = this.ctx.config.WORKER_ADMISSION_QUEUE_DEPTH - (await this.queue.getWaitingCount());
      if (room <= 0) return this.backlog ? 'queue-full' : 'done';
      const limit = Math.min(MAX_PER_RUN, room);
      const { admitted, backlog } = await admissionRun(this.ctx, limit);
      this.backlog = backlog;
      // The job carries the create's request id, so the worker's log lines for the task can be joined to it.
      await enqueueTasks(this.queue, admitted.map((a) => ({ taskId: a.id, requestId: a.request_id ?? undefined })));
      if (!backlog || admitted.length < limit) return 'done';
      return limit === MAX_PER_RUN ? 'full' : 'queue-full';
    } catch (err) {
      // The timer retries; an admitted task whose job was not queued is found by the reconciler.
      if (!this.closed) this.ctx.logger.error({ err }, 'admission failed');
      return 'done';
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.recheck);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    this.subscriber.disconnect();
  }
}
