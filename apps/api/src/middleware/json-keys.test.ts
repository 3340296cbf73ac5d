import { duplicateTopLevelKey } from './json-keys';

test('finds a repeated top-level key, escaped or not, and ignores nested and quoted ones', () => {
  expect(duplicateTopLevelKey('{"prompt":"a","seconds":"4","prompt":"b"}')).toBe('prompt');
  expect(duplicateTopLevelKey('{"prompt":"a","\\u0070rompt":"b"}')).toBe('prompt');
  expect(duplicateTopLevelKey('{"prompt":"a, \\"prompt\\": x","metadata":{"prompt":1,"prompt":2},"n":[{"n":1},{"n":2}]}')).toBeNull();
  expect(duplicateTopLevelKey(' { "a" : 1 , "b" : { "a" : [ "a" , "a" ] } } ')).toBeNull();
  expect(duplicateTopLevelKey('{}')).toBeNull();
});
