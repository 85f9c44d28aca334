export {
  parseUssd,
  latestUssdInput,
  renderUssd,
  parseUssdEvent,
  toUssdInbound,
  parseCost,
  type AtUssdHop,
  type UssdResponse,
} from './ussd.ts';
export { parseInboundSms, parseDeliveryReport } from './sms.ts';
export { createAfricasTalkingSender, type AfricasTalkingSdk, type AfricasTalkingSenderOptions } from './sender.ts';
export { parseAtDate } from './date.ts';
