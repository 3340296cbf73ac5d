import { parseConfig } from '@reelay/config';
import { QUEUE_NAMES, QUEUES, SCHEDULERS, type Retention } from './catalog';
import { admissionChannel, apiKeyVersionKey, KEY_SPACES, recoveryEpochKey, recoveryLeaseKey, upstreamKey, wakeKey } from './keys';

const config = parseConfig({});
const specs = Object.values(QUEUES);

/** Finished jobs leave Redis: at once, or by a count or an age. */
const bounded = (r: Retention | boolean | undefined): boolean =>
  r === true || (typeof r === 'object' && r !== null && ((r.count ?? 0) > 0 || (r.age ?? 0) > 0));

test.each(specs.map((s) => [s.name, s] as const))('%s: finished and failed jobs are kept a bounded time or number', (_name, spec) => {
  const options = spec.jobOptions(config);
  expect(bounded(options.removeOnComplete)).toBe(true);
  expect(bounded(options.removeOnFail)).toBe(true);
  expect(options.attempts).toBeGreaterThanOrEqual(1);
});

test.each(specs.map((s) => [s.name, s] as const))("%s: a killed worker's job is taken back within 15 s and the takeover does not fail it", (_name, spec) => {
  const w = spec.worker(config);
  expect(w.lockDuration + w.stalledInterval).toBeLessThanOrEqual(15_000);
  expect(w.maxStalledCount).toBeGreaterThanOrEqual(1);
  expect(w.concurrency).toBeGreaterThanOrEqual(1);
});

test('the bounds check itself refuses unbounded retention', () => {
  expect(bounded(false)).toBe(false);
  expect(bounded(undefined)).toBe(false);
  expect(bounded({} as Retention)).toBe(false);
});

test('queue names are unique and the names list is the catalog', () => {
  const names = specs.map((s) => s.name);
  expect(new Set(names).size).toBe(names.length);
  expect(Object.values(QUEUE_NAMES).sort()).toEqual([...names].sort());
});

test('the maintenance schedulers follow their settings; the reconcile sweep can be switched off', () => {
  const every = Object.fromEntries(QUEUES.maintenance.schedulers.map((s) => [s.id, s.every(config)]));
  expect(every).toEqual({
    [SCHEDULERS.expireResults]: config.WORKER_EXPIRY_SWEEP_INTERVAL_MS,
    [SCHEDULERS.reconcileTasks]: config.WORKER_RECONCILE_INTERVAL_MS,
  });
  const off = parseConfig({ WORKER_RECONCILE_INTERVAL_MS: '0' });
  expect(QUEUES.maintenance.schedulers.find((s) => s.id === SCHEDULERS.reconcileTasks)!.every(off)).toBe(0);
});

describe('rolling deploys: payloads queued by the previous release still parse', () => {
  test('a task job from before requestId existed', () => {
    expect(QUEUES.tasks.payload.parse({ taskId: 'vid_old' })).toEqual({ taskId: 'vid_old' });
  });
  test('a webhook job from before requestId existed', () => {
    const old = { eventId: 'evt_1', type: 'video.completed', taskId: 'vid_1', target: 'key', createdAt: 1_700_000_000 };
    expect(QUEUES.webhooks.payload.parse(old)).toEqual(old);
  });
  test('a job from a newer release, with a field this one does not know, parses without it', () => {
    expect(QUEUES.tasks.payload.parse({ taskId: 'vid_new', requestId: 'req_1', addedLater: 1 })).toEqual({ taskId: 'vid_new', requestId: 'req_1' });
    expect(QUEUES.cancels.payload.parse({ taskId: 'vid_new', addedLater: true })).toEqual({ taskId: 'vid_new' });
  });
  test('a job missing what every release sends is refused', () => {
    expect(() => QUEUES.tasks.payload.parse({ requestId: 'req_1' })).toThrow();
  });
});

test('every Reelay key lives under the prefix, in a space no queue is named', () => {
  const prefix = '{p}';
  const keys = [
    admissionChannel(prefix),
    apiKeyVersionKey(prefix),
    upstreamKey(prefix, 'rate', 't'),
    recoveryEpochKey(prefix),
    recoveryLeaseKey(prefix),
    wakeKey(prefix, 'vid_x'),
  ];
  for (const key of keys) {
    expect(key.startsWith(`${prefix}:`)).toBe(true);
    expect(KEY_SPACES).toContain(key.split(':')[1]);
  }
  for (const space of KEY_SPACES) expect(Object.values(QUEUE_NAMES)).not.toContain(space);
});
