/**
 * The log center's store of deployed containers' logs: open it with openLogCenter({ file }) on its own SQLite
 * file; the contract is in types.ts, the layout in partitions.ts, query syntax in query.ts, retention in
 * retention.ts.
 */
export { openLogCenter, INDEX_CHUNK_ROWS, MAX_PENDING_ROWS, type LogCenterTestHooks } from './store';
export { parseQueryTerms, toMatchExpression, MAX_LIMIT, MAX_CONTEXT, DEFAULT_LIMIT } from './query';
export { planRetention } from './retention';
export type * from './types';
