/** `backup FILE` and `restore FILE [--until TIME|SEQ]` (offline). Filled in once the log's backup API lands. */
import type { Command } from 'commander';
import type { Cli } from '../context.js';

export function registerBackup(_program: Command, _cli: Cli): void {}
