/**
 * The `profilesync` command tree (commander 14). `run(argv, io)` parses, runs one command,
 * prints errors (as JSON on stderr with --json) and returns the exit code.
 */
import { Command, CommanderError } from 'commander';
import { errorCode } from '@profilesync/errors';
import { Cli, type CliIO } from './context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { Output } from './output.js';
import { hintFor } from './hints.js';
import { registerProfile } from './commands/profile.js';
import { registerAdmin } from './commands/admin.js';
import { registerNode } from './commands/node.js';
import { registerData } from './commands/data.js';
import { registerFeed } from './commands/feed.js';

export const VERSION = '0.1.0';

export function buildProgram(cli: Cli): Command {
  const program = new Command('profilesync')
    .description('event-sourced sync engine for LLM model profiles')
    // the program's own options count only before the subcommand: `profile get ID --version @2`
    // is get's --version, never the CLI's (`profilesync --version` / `-V` prints that)
    .enablePositionalOptions()
    .version(VERSION, '-V, --version', 'print the CLI version (before any command)')
    // commander's own parse errors (unknown option, missing argument, ...) are not printed by
    // commander: run() prints them like every other error, as USAGE (JSON with --json)
    .configureOutput({
      writeOut: (s) => cli.io.stdout.write(s),
      writeErr: (s) => cli.io.stderr.write(s),
      outputError: () => undefined,
    })
    .exitOverride();
  registerNode(program, cli);
  registerProfile(program, cli);
  registerData(program, cli);
  registerAdmin(program, cli);
  registerFeed(program, cli);
  // every subcommand inherits exitOverride and output settings
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      sub.exitOverride().configureOutput({ writeOut: (s) => cli.io.stdout.write(s), writeErr: (s) => cli.io.stderr.write(s), outputError: () => undefined });
      walk(sub);
    }
  };
  walk(program);
  return program;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const cli = new Cli(io);
  const program = buildProgram(cli);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT.OK;
      const out = new Output({ json, stdout: io.stdout, stderr: io.stderr, env: io.env });
      if (err.code === 'commander.help') {
        // a parent command (keys, profile, peer, ...) or the program without a subcommand: its
        // help is on stderr already; a usage error like any other missing argument
        const path = commandPath(program, argv);
        const at = commandAt(program, argv);
        out.error('USAGE', `${path} needs a ${at === program ? 'command' : 'subcommand'}: ${at.commands.map((c) => c.name()).filter((n) => n !== 'help').join(', ')}`, `see \`${path} --help\``);
        return EXIT.USAGE;
      }
      // a parse error: the stable code USAGE like every other bad argument, one JSON document
      // with --json, and the help of the command that refused it
      out.error('USAGE', err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim(), `see \`${commandPath(program, argv)} --help\` for the arguments it takes`);
      return EXIT.USAGE;
    }
    const out = new Output({ json, stdout: io.stdout, stderr: io.stderr, env: io.env });
    const code = errorCode(err) ?? 'INTERNAL';
    const e = err as { message?: string; details?: { hint?: unknown; reported?: unknown } & Record<string, unknown> };
    if (e.details?.reported !== true || json) {
      const hint = typeof e.details?.hint === 'string' ? e.details.hint : hintFor(code);
      // the details a script needs (details.missing of a render, details.path/rule of a refused write), without the CLI's own flags
      const { hint: _hint, reported: _reported, ...details } = errorCode(err) ? (e.details ?? {}) : {};
      out.error(code, errorCode(err) ? (e.message ?? String(err)) : `unexpected: ${(err as Error).stack ?? String(err)}`, hint, details);
    }
    return exitCodeFor(code);
  }
}

/** The commands the arguments name, outermost first (the program, `profile`, `get`). */
function commandChain(program: Command, argv: string[]): Command[] {
  const chain = [program];
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const sub = chain[chain.length - 1]!.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) break;
    chain.push(sub);
  }
  return chain;
}

/** `profilesync profile get`: the command (sub)path the arguments name, for a usage hint. */
function commandPath(program: Command, argv: string[]): string {
  return commandChain(program, argv).map((c) => c.name()).join(' ');
}

/** The innermost command the arguments name. */
function commandAt(program: Command, argv: string[]): Command {
  return commandChain(program, argv).pop()!;
}

export { hintFor };
