import { assertTransition, canTransition, isTerminal, TASK_STATUSES } from './task-state';

test('a task moves pending -> processing -> completed|failed and can fail before it starts', () => {
  expect(canTransition('pending', 'processing')).toBe(true);
  expect(canTransition('processing', 'completed')).toBe(true);
  expect(canTransition('processing', 'failed')).toBe(true);
  expect(canTransition('pending', 'failed')).toBe(true);
});

test('finished tasks never move again, and nothing skips processing or goes backwards', () => {
  for (const to of TASK_STATUSES) {
    expect(canTransition('completed', to)).toBe(false);
    expect(canTransition('failed', to)).toBe(false);
  }
  expect(canTransition('pending', 'completed')).toBe(false);
  expect(canTransition('processing', 'pending')).toBe(false);
  expect(isTerminal('completed') && isTerminal('failed')).toBe(true);
  expect(isTerminal('pending') || isTerminal('processing')).toBe(false);
  expect(() => assertTransition('completed', 'failed')).toThrow('illegal task transition completed -> failed');
});
