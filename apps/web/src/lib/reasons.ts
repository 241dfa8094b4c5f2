/** A closed version's reason (core's VersionReason) in words, for the history list. */
export const REASON: Readonly<Record<string, string>> = {
  idle: 'edits, then a pause',
  checkpoint: 'saved version',
  actor: 'edits, then someone else edited',
  create: 'created',
  revert: 'reverted',
  delete: 'deleted',
  import: 'imported',
  label: 'label',
  startup: 'edits (closed after a restart)',
  migrate: 'migrated to schema 2',
  resolve: 'conflict resolved',
  merge: 'edits, then a merge from a peer',
};
