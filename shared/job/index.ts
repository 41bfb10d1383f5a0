/** shared/job: the job file schema, its step kinds and the YAML parser with file/line/field errors. */
export * from './schema';
export * from './step-kinds';
export * from './parse';
export * from './outputs';
export { shellKind, shellConfigSchema } from './kinds/shell';
export { checkoutKind, checkoutConfigSchema } from './kinds/checkout';
export { deployTargets } from './kinds/deploy';
export { scanKind, scanConfigSchema, SCAN_REPORT_PATH } from './kinds/scan';
export { gateProblems, qualityGateSchema, type QualityGate } from './gate';
export { NOTIFY_EVENTS, channelKind, notifyChannelSchema, type NotifyChannel, type NotifyEvent } from './notify';
