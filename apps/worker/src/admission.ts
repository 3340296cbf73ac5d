import { ADMISSION_MAX_PER_RUN, admitWaitingTasks, type AdmittedTask } from '@reelay/db';
import { admissionChannel, enqueueTasks, interactiveAdmittedKey, taskJobName, type createRedis, type TaskJob } from '@reelay/queue';
import { admissionRunSeconds } from '@reelay/observability';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context';

type Redis = ReturnType<typeof createRedis>;

/**
 * One admission run of this worker's queue prefix (the fair-share rules are in packages/db
 * tasks/admission.ts); `backlog` says whether tasks were left waiting.
 */
function admissionRun(ctx: WorkerContext, maxPerRun: number, maxBatchPerRun = maxPerRun): Promise<{ admitted: AdmittedTask[]; backlog: boolean }> {
  return admitWaitingTasks(ctx.db, {
    queuePrefix: ctx.config.REELAY_QUEUE_PREFIX,
    providerLimits: ctx.config.REELAY_PROVIDER_CONCURRENCY ?? {},
    maxPerRun,
    maxBatchPerRun,
  });
}

/** Gives waiting tasks their slots, fairly, without queueing their jobs (tests and tools). */
export async function admitPendingTasks(ctx: WorkerContext, maxPerRun = ADMISSION_MAX_PER_RUN): Promise<AdmittedTask[]> {
  return (await admissionRun(ctx, maxPerRun)).admitted;
}

/** How soon a run that the queue's depth held back looks again. */
const QUEUE_RECHECK_MS = 100;
/** How long slots freed by batch tasks wait for one admission run together. */
const BATCH_SLOTS_RUN_MS = 100;
/** How long after admitting interactive tasks batch tasks keep to their short queue. */
const INTERACTIVE_WINDOW_MS = 60_000;

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
  private batchSlots: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly queue: Queue<TaskJob>,
    private readonly subscriber: Redis,
    /** For commands (the subscriber can only listen). */
    private readonly redis: Redis,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', () => this.wake());
    await this.subscriber.subscribe(admissionChannel(this.ctx.config.REELAY_QUEUE_PREFIX));
    this.timer = setInterval(() => this.wake(), this.ctx.config.WORKER_ADMISSION_INTERVAL_MS);
    this.timer.unref();
    this.wake();
  }

  /**
   * A slot was freed: worth a run only if tasks were left waiting. Slots freed by batch tasks wait
   * up to BATCH_SLOTS_RUN_MS and share one run: a batch of instant tasks ends a hundred a second,
   * and one run each kept admission running back to back, so an interactive create's run always
   * queued behind one (and each cost Postgres and this event loop a transaction).
   */
  slotFreed(byBatch = false): void {
    if (!this.backlog) return;
    if (!byBatch) return this.wake();
    this.batchSlots ??= setTimeout(() => {
      this.batchSlots = undefined;
      this.wake();
    }, BATCH_SLOTS_RUN_MS);
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
    const endTimer = admissionRunSeconds.startTimer();
    try {
      // Batch tasks' jobs carry a priority, and BullMQ keeps those in 'prioritized', not 'waiting':
      // both count, or a batch's 50,000 submits would all be queued at once.
      const interactiveKey = interactiveAdmittedKey(this.ctx.config.REELAY_QUEUE_PREFIX);
      const [queued, interactiveLately] = await Promise.all([this.queue.getJobCounts('waiting', 'prioritized'), this.redis.exists(interactiveKey)]);
      const { WORKER_ADMISSION_QUEUE_DEPTH: depth, WORKER_ADMISSION_BATCH_DEPTH: batchDepth } = this.ctx.config;
      const room = depth - (queued.waiting ?? 0) - (queued.prioritized ?? 0);
      if (room <= 0) return this.backlog ? 'queue-full' : 'done';
      const limit = Math.min(ADMISSION_MAX_PER_RUN, room);
      // While interactive work is about, batch jobs (the prioritized ones) keep to a short queue of
      // their own: a worker that always has a batch step to take next has every slot busy, and an
      // interactive create then waits for one to free and for the event loop it shares with them.
      const batchLimit = interactiveLately ? Math.max(0, Math.min(limit, batchDepth - (queued.prioritized ?? 0))) : limit;
      const { admitted, backlog } = await admissionRun(this.ctx, limit, batchLimit);
      if (admitted.some((a) => !a.batch)) await this.redis.set(interactiveKey, '1', 'PX', INTERACTIVE_WINDOW_MS);
      this.backlog = backlog;
      // The job carries the create's request id, so the worker's log lines for the task can be joined to it.
      await enqueueTasks(
        this.queue,
        admitted.map((a) => ({
          taskId: a.id,
          requestId: a.request_id ?? undefined,
          name: taskJobName({ model: a.model, keyName: a.key_name, prompt: a.prompt_start }),
          batch: a.batch,
        })),
      );
      if (backlog && batchLimit < limit && admitted.filter((a) => a.batch).length === batchLimit) return 'queue-full';
      if (!backlog || admitted.length < limit) return 'done';
      return limit === ADMISSION_MAX_PER_RUN ? 'full' : 'queue-full';
    } catch (err) {
      // The timer retries; an admitted task whose job was not queued is found by the reconciler.
      if (!this.closed) this.ctx.logger.error({ err }, 'admission failed');
      return 'done';
    } finally {
      endTimer();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.recheck);
    clearTimeout(this.batchSlots);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    this.subscriber.disconnect();
  }
}
