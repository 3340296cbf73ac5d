import { targetGroups, type ModelSpec, type ModelTarget } from '@reelay/core';
import { upstreamKey } from '@reelay/queue';
import type { Redis } from 'ioredis';

/**
 * The order in which a task tries its model's targets. Targets are grouped by `priority`
 * (default: their position in the catalog, so a plain list is ordered failover); a lower group
 * is always tried first. Within a group (several keys of one provider at equal priority), the
 * starting target rotates round-robin on a Redis counter shared by every worker process, so load
 * spreads evenly over the keys; the rest of the group follows as failover.
 */
export class TargetRouter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async order(model: ModelSpec): Promise<ModelTarget[]> {
    const ordered: ModelTarget[] = [];
    for (const { priority, targets: group } of targetGroups(model)) {
      if (group.length === 1) {
        ordered.push(group[0]!);
        continue;
      }
      const turn = await this.redis.incr(upstreamKey(this.prefix, 'rr', `${model.id}:${priority}`));
      const start = turn % group.length;
      ordered.push(...group.slice(start), ...group.slice(0, start));
    }
    return ordered;
  }
}

/** Plain catalog order by priority, no load sharing: for a context without Redis. */
export const CatalogOrder = {
  async order(model: ModelSpec): Promise<ModelTarget[]> {
    return targetGroups(model).flatMap((g) => g.targets);
  },
};
