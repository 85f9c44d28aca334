/**
 * The Redis the security tests use: `JIBU_TEST_REDIS_URL` (never `REDIS_URL`, which may name a real
 * deployment), database 15 unless the URL names one. Each test keeps to its own key prefix.
 */
export function testRedisUrl(): string {
  const url = new URL(process.env.JIBU_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/15';
  return url.toString();
}
