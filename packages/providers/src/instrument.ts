import { observeUpstream } from '@reelay/observability';
import type { Provider } from './provider';

const TIMED: Record<string, string> = { submit: 'submit', poll: 'poll', fetchOutput: 'fetch', cancel: 'cancel', release: 'release' };

/**
 * Wraps a provider so its upstream calls are timed and their errors counted under the provider's
 * name (reelay_upstream_request_duration_seconds, reelay_upstream_errors_total). Members other
 * than the timed calls pass through unchanged. Adapters can also call observeUpstream themselves
 * around individual HTTP requests for finer detail.
 */
export function instrumentProvider<P extends Provider>(provider: P): P {
  return new Proxy(provider, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      const operation = typeof prop === 'string' ? TIMED[prop] : undefined;
      if (!operation || typeof value !== 'function') return value;
      return (...args: unknown[]) => observeUpstream(target.name, operation, () => value.apply(target, args));
    },
  });
}
