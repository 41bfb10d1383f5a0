/**
 * The agent's version. `npm run build` writes it into the bundle (`<package version>+<code hash>`, see
 * scripts/build.mjs), so two bundles with different code never share a version. Run from source (tsx),
 * the agent reports `<package version>-source`; such an agent never upgrades itself.
 */
declare const __SLIPWAY_AGENT_VERSION__: string | undefined;

const SOURCE_VERSION = '0.1.0-source';

export const AGENT_VERSION: string = typeof __SLIPWAY_AGENT_VERSION__ === 'string' ? __SLIPWAY_AGENT_VERSION__ : SOURCE_VERSION;

/** True inside a bundle built by `npm run build` (the only form that can replace itself with a newer bundle). */
export const IS_BUNDLE: boolean = typeof __SLIPWAY_AGENT_VERSION__ === 'string';
