/**
 * Web-standard responses shaped like DHIS2's: JSON bodies and the WebMessage error envelope
 * (docs/dhis2.md#query-validation-and-http-codes).
 */

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json;charset=UTF-8', ...headers },
  });
}

/** `{httpStatus, httpStatusCode, status, message, errorCode?}`: how DHIS2 answers errors outside imports. */
export function webMessageBody(
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    httpStatus: statusText(status),
    httpStatusCode: status,
    status: status < 400 ? 'OK' : 'ERROR',
    message,
    ...extra,
  };
}

/** Thrown inside a handler to answer with a WebMessage. */
export class HttpError extends Error {
  readonly status: number;
  readonly errorCode?: string;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, opts: { errorCode?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.errorCode = opts.errorCode;
    this.headers = opts.headers ?? {};
  }

  toResponse(): Response {
    return json(
      this.status,
      webMessageBody(this.status, this.message, this.errorCode ? { errorCode: this.errorCode } : {}),
      this.headers,
    );
  }
}

/**
 * An invalid query: 409 up to 2.40 (`IllegalQueryException`), 400 from 2.41
 * (docs/dhis2.md#query-validation-and-http-codes).
 */
export function queryError(minor: number, message: string): HttpError {
  return new HttpError(minor <= 40 ? 409 : 400, message);
}

/** No access: 409 up to 2.40, 403 from 2.41. */
export function accessError(minor: number, message: string): HttpError {
  return new HttpError(minor <= 40 ? 409 : 403, message);
}

/** A JSON request body, or DHIS2's 400 for one that does not parse. */
export async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'JSON parse error: Unexpected character or end of input');
  }
}
