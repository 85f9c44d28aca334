export { parseInboundSms } from './inbound.ts';
export { parseStatus, HTTP_STATUS_WORDS } from './status.ts';
export { createHttpSender, type HttpSenderOptions } from './sender.ts';
