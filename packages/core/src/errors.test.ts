import { cleanTaskMessage } from './errors';

test("a failed task's message is one short line without control characters", () => {
  expect(cleanTaskMessage('replicate: CUDA out of memory\nTraceback (most recent call last):\n  File "x.py"')).toBe(
    'replicate: CUDA out of memory Traceback (most recent call last): File "x.py"',
  );
  expect(cleanTaskMessage('colour \u001b[31mred\u001b[0m\u0000')).toBe('colour [31mred [0m');
  expect(cleanTaskMessage('x'.repeat(1000))).toHaveLength(300);
  expect(cleanTaskMessage(' \n ')).toBe('The task failed');
});
