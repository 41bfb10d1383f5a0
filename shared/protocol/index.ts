/** shared/protocol: the one definition of what master and agent say to each other. */
export * from './messages';
export * from './log-frame';
export * from './client';
