/**
 * The ledger: reservations, releases and charges. Money transactions wait on a key's row lock
 * behind a busy burst of its creates: allow more than Prisma's default 2 s.
 */
export const MONEY_TX_OPTIONS = { maxWait: 15_000, timeout: 30_000 } as const;
