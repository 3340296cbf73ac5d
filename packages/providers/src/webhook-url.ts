import type { Provider } from './provider';

/**
 * Where an upstream calls back when a task ends: `<REELAY_PUBLIC_URL>/v1/upstream-webhooks/<provider>/<task id>`.
 * Only for providers that can verify a callback, and only when Reelay knows its public address;
 * otherwise polling alone finds the result.
 */
export function upstreamWebhookUrl(publicUrl: string | undefined, provider: Provider, taskId: string): string | undefined {
  if (!publicUrl || !provider.verifyWebhook) return undefined;
  return `${publicUrl.replace(/\/+$/, '')}/v1/upstream-webhooks/${encodeURIComponent(provider.name)}/${encodeURIComponent(taskId)}`;
}
