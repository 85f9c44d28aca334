export { verifyTwilioSignature, type TwilioSignatureOptions } from './signature.ts';
export { parseInboundSms, emptyTwiml, TWIML_CONTENT_TYPE } from './inbound.ts';
export { parseStatusCallback } from './status.ts';
export {
  createTwilioSender,
  type TwilioCreateParams,
  type TwilioMessagesClient,
  type TwilioSenderOptions,
} from './sender.ts';
