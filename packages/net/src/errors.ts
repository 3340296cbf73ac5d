export type UnsafeUrlReason = 'scheme' | 'address' | 'redirect' | 'too_large' | 'timeout' | 'dns' | 'http';

/**
 * The one error `safeFetch` and `resolvePublic` throw. Its message is written to be shown to an API
 * client as-is: it names only what the client sent (the URL host) and what we decided, never a stack
 * or an internal error text; the underlying error, if any, is kept on `cause` for logs.
 */
export class UnsafeUrlError extends Error {
  override readonly name = 'UnsafeUrlError';

  constructor(
    readonly reason: UnsafeUrlReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
