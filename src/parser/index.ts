export { parse } from './parse';
export { format, type FormatOptions } from './format';
export type * from './types';
