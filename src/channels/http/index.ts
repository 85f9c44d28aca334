export { parseInboundSms } from './inbound.ts';
export { parseStatus, HTTP_STATUS_WORDS } from './status.ts';
export { createHttpSender, type HttpSenderOptions } from './sender.ts';
export { parseUssdHop, renderUssdAnswer } from './ussd.ts';
export { ussdRoute, type HttpUssdDeps } from './ussd-route.ts';
