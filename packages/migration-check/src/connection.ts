import type { ClientConfig } from 'pg';

/** Separate fields, not a connection string, so `database` can be swapped for the shadow. */
export function clientConfig(databaseUrl: string): ClientConfig {
  const url = new URL(databaseUrl);
  return {
    host: decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1'), // [::1] -> ::1
    port: url.port ? Number(url.port) : 5432,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)),
  };
}
