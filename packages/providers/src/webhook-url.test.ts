import { FalProvider } from './fal/fal-provider';
import { VeoProvider } from './gemini-veo/veo-provider';
import { ReplicateProvider } from './replicate/replicate-provider';
import { upstreamWebhookUrl } from './webhook-url';

const replicate = new ReplicateProvider({ apiToken: 't' });
const fal = new FalProvider({ apiKey: 'k' });
const veo = new VeoProvider({ apiKey: 'k' });

test('a callback URL is registered only when Reelay knows its public address and the upstream can sign callbacks', () => {
  expect(upstreamWebhookUrl('https://reelay.example.com/', replicate, 'vid_1')).toBe('https://reelay.example.com/v1/upstream-webhooks/replicate/vid_1');
  expect(upstreamWebhookUrl('https://reelay.example.com/base', fal, 'vid_2')).toBe('https://reelay.example.com/base/v1/upstream-webhooks/fal/vid_2');
  expect(upstreamWebhookUrl(undefined, replicate, 'vid_1')).toBeUndefined();
  // Veo has no callbacks: polling only.
  expect(upstreamWebhookUrl('https://reelay.example.com', veo, 'vid_3')).toBeUndefined();
});
