import { createHmac, timingSafeEqual } from 'node:crypto';

export type ContentVariant = 'video' | 'thumbnail' | 'spritesheet';

/** What a signed content link grants: one output of one video, until `expires` (unix seconds). */
export interface ContentGrant {
  videoId: string;
  variant: ContentVariant;
  index: number;
  expires: number;
}

function mac(secret: string, g: ContentGrant): Buffer {
  // Newline-separated fields: none of them can contain a newline, so no two grants share an input.
  return createHmac('sha256', secret).update(`v1\n${g.videoId}\n${g.variant}\n${g.index}\n${g.expires}`).digest();
}

export function signContentGrant(secret: string, grant: ContentGrant): string {
  return mac(secret, grant).toString('base64url');
}

export function verifyContentGrant(secret: string, grant: ContentGrant, signature: string): boolean {
  const expected = mac(secret, grant);
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `<base>/v1/videos/<id>/content?variant=…&index=…&expires=…&signature=…`, usable without a bearer header. */
export function signedContentUrl(baseUrl: string, secret: string, grant: ContentGrant): string {
  const q = new URLSearchParams({
    variant: grant.variant,
    index: String(grant.index),
    expires: String(grant.expires),
    signature: signContentGrant(secret, grant),
  });
  return `${baseUrl.replace(/\/+$/, '')}/v1/videos/${encodeURIComponent(grant.videoId)}/content?${q.toString()}`;
}
