import { JibuError } from '../errors.ts';

/**
 * DHIS2 could not be reached, timed out, answered 5xx/429, or answered something that is not the API
 * (an HTML proxy page). `retryable` says whether trying again later can help.
 */
export class Dhis2TransportError extends JibuError {
  /** The HTTP status DHIS2 (or a proxy in front of it) answered, when there was an answer. */
  readonly dhis2Status?: number;
  readonly retryable: boolean;
  readonly timedOut: boolean;
  constructor(
    message: string,
    opts: { dhis2Status?: number; retryable?: boolean; timedOut?: boolean; cause?: unknown } = {},
  ) {
    super(
      'JIBU_DHIS2_UNAVAILABLE',
      message,
      opts.dhis2Status === undefined ? undefined : { dhis2Status: opts.dhis2Status },
      { cause: opts.cause },
    );
    this.name = 'Dhis2TransportError';
    this.dhis2Status = opts.dhis2Status;
    this.retryable = opts.retryable ?? true;
    this.timedOut = opts.timedOut ?? false;
  }
}

/** DHIS2 refused our credentials (401) or our account may not do this (403). Retrying will not help. */
export class Dhis2AuthError extends JibuError {
  readonly dhis2Status: number;
  readonly retryable = false;
  constructor(dhis2Status: number, message: string) {
    super('JIBU_DHIS2_AUTH', message, { dhis2Status });
    this.name = 'Dhis2AuthError';
    this.dhis2Status = dhis2Status;
  }
}

/**
 * DHIS2 rejected a read or a request as malformed (400, 404 on a collection, 409 illegal query): a bug
 * or a metadata mismatch on our side. Import validation failures are not thrown: they come back as an
 * `ImportResult` with status `ERROR`.
 */
export class Dhis2RequestError extends JibuError {
  readonly dhis2Status: number;
  /** DHIS2's own error code when the WebMessage carried one (e.g. `E1005`). */
  readonly dhis2Code?: string;
  readonly retryable = false;
  constructor(dhis2Status: number, message: string, dhis2Code?: string) {
    super('JIBU_DHIS2_REJECTED', message, { dhis2Status, ...(dhis2Code ? { dhis2Code } : {}) });
    this.name = 'Dhis2RequestError';
    this.dhis2Status = dhis2Status;
    this.dhis2Code = dhis2Code;
  }
}
