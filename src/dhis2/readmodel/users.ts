import { z } from 'zod';
import type { Dhis2ClientOptions } from '../client.ts';
import { httpFetch, type HttpResponse } from '../../http-client.ts';
import { Dhis2AuthError, Dhis2RequestError, Dhis2TransportError } from '../errors.ts';
import { PagerSchema, UserSchema, type Dhis2User } from '../schemas.ts';

/**
 * Where the sync finds case workers: every DHIS2 user with a phone number. The typed client only looks
 * users up by one phone (`usersByPhone`), and a USSD hop must never wait on that, so the sync lists them
 * all instead. This is a small stand-alone reader until the client grows a user listing; it speaks the
 * metadata API, whose envelope (`{pager, users}`) is the same in every version (docs/dhis2.md#users-and-phone-numbers).
 */
export interface CaseWorkerSource {
  /** Every user whose `phoneNumber` is set, with capture org units (disabled ones included: the view drops them). */
  usersWithPhone(): Promise<Dhis2User[]>;
}

const USER_FIELDS =
  'id,username,userCredentials[username],firstName,surname,displayName,phoneNumber,disabled,organisationUnits[id,path]';
const UsersPageSchema = z.object({ users: z.array(UserSchema), pager: PagerSchema.optional() });

/**
 * A {@link CaseWorkerSource} over the DHIS2 Web API, with the same options (URL, auth, timeout, fetch) as
 * the client.
 *
 * @example
 * const users = createCaseWorkerSource({ baseUrl: config.DHIS2_URL, auth: { token: config.DHIS2_TOKEN } });
 * await syncReadModel({ client, users, store, deployment, clock, mode: 'full' });
 */
export function createCaseWorkerSource(opts: Dhis2ClientOptions & { pageSize?: number }): CaseWorkerSource {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? httpFetch;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const pageSize = opts.pageSize ?? 500;
  const authorization =
    'token' in opts.auth
      ? `ApiToken ${opts.auth.token}`
      : `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;

  async function page(n: number): Promise<z.infer<typeof UsersPageSchema>> {
    const qs = new URLSearchParams({
      filter: 'phoneNumber:!null',
      fields: USER_FIELDS,
      order: 'id:asc',
      page: String(n),
      pageSize: String(pageSize),
    });
    let res: HttpResponse;
    let text: string;
    try {
      res = await doFetch(`${baseUrl}/api/users?${qs.toString()}`, {
        headers: { Authorization: authorization, Accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new Dhis2TransportError(
        timedOut ? `DHIS2 did not answer GET /api/users within ${timeoutMs} ms` : 'DHIS2 unreachable (GET /api/users)',
        { timedOut, cause: err },
      );
    }
    if (res.status === 401 || res.status === 403)
      throw new Dhis2AuthError(
        res.status,
        `DHIS2 answered ${res.status} to GET /api/users: the Jibu account may not read users`,
      );
    if (res.status >= 500 || res.status === 429)
      throw new Dhis2TransportError(`DHIS2 answered ${res.status} to GET /api/users`, { dhis2Status: res.status });
    if (res.status >= 400) throw new Dhis2RequestError(res.status, `DHIS2 refused GET /api/users (${res.status})`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Dhis2TransportError('DHIS2 answered GET /api/users with something other than JSON', {
        dhis2Status: res.status,
        retryable: false,
      });
    }
    const parsed = UsersPageSchema.safeParse(json);
    if (!parsed.success)
      throw new Dhis2TransportError('DHIS2 users list did not have the expected shape', { retryable: false });
    return parsed.data;
  }

  return {
    async usersWithPhone() {
      const all: Dhis2User[] = [];
      for (let n = 1; ; n++) {
        const p = await page(n);
        all.push(...p.users);
        const pageCount = p.pager?.pageCount;
        if (p.users.length < pageSize || (pageCount !== undefined && n >= pageCount)) return all;
      }
    },
  };
}
