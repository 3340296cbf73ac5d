import { newId, settledCostMicros } from '@reelay/core';
import type { Prisma } from './generated/prisma/client';

type Tx = Prisma.TransactionClient;

/**
 * The ledger: reservations, releases and charges. Money transactions wait on a key's row lock
 * behind a busy burst of its creates: allow more than Prisma's default 2 s.
 */
export const MONEY_TX_OPTIONS = { maxWait: 15_000, timeout: 30_000 } as const;

/**
 * Closes a task's reservation exactly once: on completion the estimate is released and what was
 * produced is charged; otherwise the estimate is only released. Guarded by billing_status (only
 * one caller moves it off `reserved`) and by the ledger's unique (task, kind).
 */
export async function closeBilling(tx: Tx, taskId: string, outcome: { completed: true; producedSeconds: number | null } | { completed: false }): Promise<void> {
  const [row] = await tx.$queryRaw<{ api_key_id: string; reserved_micros: bigint; price_micros_per_second: bigint }[]>`
    SELECT api_key_id, reserved_micros, price_micros_per_second FROM tasks WHERE id = ${taskId} AND billing_status = 'reserved' FOR UPDATE`;
  if (!row) return;
  const reserved = row.reserved_micros;
  const charge = outcome.completed ? settledCostMicros(row.price_micros_per_second, reserved, outcome.producedSeconds) : 0n;
  await tx.task.update({
    where: { id: taskId },
    data: outcome.completed ? { billingStatus: 'settled', costMicros: charge } : { billingStatus: 'released' },
  });
  await tx.ledgerEntry.create({ data: { id: newId('led'), apiKeyId: row.api_key_id, taskId, kind: 'release', amountMicros: -reserved } });
  if (outcome.completed) {
    await tx.ledgerEntry.create({ data: { id: newId('led'), apiKeyId: row.api_key_id, taskId, kind: 'charge', amountMicros: charge } });
  }
  await tx.apiKey.update({ where: { id: row.api_key_id }, data: { committedMicros: { increment: charge - reserved } } });
}
