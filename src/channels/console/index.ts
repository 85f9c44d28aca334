export { createConsoleSender, renderBox, type ConsoleSenderOptions } from './sender.ts';
