/** shared/job: the job file schema, its step kinds and the YAML parser with file/line/field errors. */
export * from './schema';
export * from './step-kinds';
export * from './parse';
export * from './outputs';
export { jobFieldIssue, stepLocator, type StepLocator } from './step-locator';
export { DEFAULT_JOB_FILE, MAX_JOB_FILE_LABEL, jobFileLabelProblem } from './file-label';
export { shellKind, shellConfigSchema } from './kinds/shell';
export { checkoutKind, checkoutConfigSchema } from './kinds/checkout';
export { deployTargets } from './kinds/deploy';
export { scanKind, createScanKind, scanConfigSchemaFor, SCAN_REPORT_PATH } from './kinds/scan';
export { ScannerKinds, builtinScannerKinds, KNOWN_SCANNER_PLUGINS, type ScannerKindDef } from './scanner-kinds';
export { gateProblems, qualityGateSchema, type QualityGate } from './gate';
export { NOTIFY_EVENTS, channelKind, checkNotifiers, notifyChannelSchema, pluginChannelSecrets, type NotifyChannel, type NotifyEvent, type PluginChannel } from './notify';
export { NotifierKinds, type NotifierKindDef } from './notifier-kinds';
