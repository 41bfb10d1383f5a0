/**
 * Node-only: the streaming secret masker lives in shared/node/mask.ts (it works on Buffer). This path is kept
 * for the agent's and the tests' imports; the web UI must import neither (test/unit/web-imports.test.ts).
 */
export { SecretMasker } from './node/mask';
