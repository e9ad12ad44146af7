export { compile, RUN_ONLY_CODES, type CompileOptions, type CompileResult } from './compile';
export { validate } from './validate';
export type * from './types';
export { SHAPES, SIDES } from './types';
export { flowPaths, type FlowPath, type PathsOptions, type PathsResult } from './paths';
