import type { Request, RequestHandler, Response } from 'express';
import type { Clock } from '../../clock.ts';
import type { Config } from '../../config.ts';
import { handleInbound, type RunnerDeps } from '../../conversation/runner.ts';
import { ERRORS, errorBody, JibuError, type ErrorCode } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { checkGatewayKey } from '../webhook-key.ts';
import { parseUssdHop, renderUssdAnswer } from './ussd.ts';

/** What the route needs from the gateway (the app's own dependencies fit). */
export interface HttpUssdDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  runner: RunnerDeps;
  isReady: () => boolean;
  unavailableText: (locale?: string) => string;
  /** The polite closing text when this phone is over its inbound rate limit, else undefined. */
  limited?: (phone: string) => Promise<string | undefined>;
}

function refuse(res: Response, code: ErrorCode, detail?: unknown): void {
  res.status(ERRORS[code].status).json(errorBody(code, detail));
}

/**
 * `POST /ussd/http`: one hop of the generic USSD contract. Refused like `/sms/http` while starting or
 * draining (503) and without the `?key=` of `WEBHOOK_SECRET` (403; every request when no secret is set
 * outside the all-embedded demo); a malformed hop is a 400 with a
 * stable code. Once the hop is valid the caller is on the line: a failure to store it is answered
 * with the polite closing screen, as for Africa's Talking.
 */
export function ussdRoute(deps: HttpUssdDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    if (!deps.isReady()) return refuse(res, 'JIBU_NOT_READY');
    const key = checkGatewayKey(deps.config, req.query.key);
    if (!key.ok) return refuse(res, key.code, key.detail);
    const parsed = parseUssdHop({ body: req.body ?? {} }, deps.config.DEFAULT_COUNTRY, deps.clock);
    if (!parsed.ok) return refuse(res, parsed.code, parsed.detail);
    const limitedText = await deps.limited?.(parsed.value.from);
    if (limitedText !== undefined) return void res.status(200).json(renderUssdAnswer({ text: limitedText, end: true }));
    let reply: { text: string; end: boolean };
    try {
      reply = (await handleInbound(deps.runner, parsed.value)).reply ?? { text: deps.unavailableText(), end: true };
    } catch (err) {
      const code = err instanceof JibuError ? err.code : undefined;
      deps.logger.error({ err, code, provider: 'http' }, 'USSD hop could not be processed');
      reply = { text: deps.unavailableText(), end: true };
    }
    res.status(200).json(renderUssdAnswer(reply));
  };
}
