/**
 * The one catalogue of stable error codes. A code that reaches a log line or an HTTP response comes
 * from here, so operators and integrators can grep and alert on it.
 */
export const ERRORS = {
  JIBU_BAD_REQUEST: { status: 400, message: 'The request body is malformed or misses required fields.' },
  JIBU_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request content type is not supported here.' },
  JIBU_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  JIBU_BAD_SIGNATURE: { status: 403, message: 'The request signature is missing or invalid.' },
  JIBU_BAD_WEBHOOK_KEY: { status: 403, message: 'The webhook key is missing or invalid.' },
  JIBU_UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required.' },
  JIBU_FORBIDDEN_SOURCE: { status: 403, message: 'This address may not call this endpoint.' },
  JIBU_TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many failed sign-in attempts; wait and try again.' },
  JIBU_NOT_FOUND: { status: 404, message: 'No such resource.' },
  JIBU_BAD_PHONE: { status: 400, message: 'The phone number cannot be read as an international number.' },
  JIBU_UNKNOWN_JOB: { status: 404, message: 'No such job.' },
  JIBU_FLOWS_INVALID: { status: 422, message: 'The flows or locales contain errors; the running set was kept.' },
  JIBU_STORE_UNAVAILABLE: { status: 503, message: 'The state store is unavailable; retry later.' },
  JIBU_BUSY: { status: 503, message: 'The contact is busy with another message; retry later.' },
  JIBU_UNAVAILABLE: { status: 503, message: 'The message could not be stored now; retry later.' },
  JIBU_NOT_READY: { status: 503, message: 'The service is starting or stopping.' },
  JIBU_RATE_LIMITED: { status: 429, message: 'Too many requests from this source; retry later.' },
  JIBU_INTERNAL: { status: 500, message: 'Internal error.' },
  JIBU_CONFIG_INVALID: { status: 500, message: 'The configuration is invalid.' },
  JIBU_DHIS2_UNAVAILABLE: { status: 502, message: 'DHIS2 did not answer in time.' },
  JIBU_DHIS2_REJECTED: { status: 409, message: 'DHIS2 rejected the import.' },
  JIBU_DHIS2_AUTH: { status: 502, message: 'DHIS2 refused the credentials or the account lacks an authority.' },
  JIBU_SEND_FAILED: { status: 502, message: 'The SMS provider refused the message.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error that carries a catalogue code; `detail` is safe to show to an integrator (never to a caregiver). */
export class JibuError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail?: unknown;
  constructor(code: ErrorCode, message?: string, detail?: unknown, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'JibuError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }
}

/** The JSON body every 4xx/5xx answer carries. */
export function errorBody(
  code: ErrorCode,
  detail?: unknown,
): { error: { code: ErrorCode; message: string; detail?: unknown } } {
  return { error: { code, message: ERRORS[code].message, ...(detail === undefined ? {} : { detail }) } };
}
