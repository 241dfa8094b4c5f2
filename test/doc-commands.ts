/**
 * Extraction of the shell commands that README.md, apps/* /README.md, packages/* /README.md and
 * docs/*.md show, for test/doc-commands.test.ts (and anyone who wants the list).
 *
 * Blocks: fenced ```sh, ```bash, ```shell and ```console. In sh/bash/shell blocks every line is a
 * command except blank lines and lines starting with `#`; a line ending in `\` continues on the
 * next. In console blocks only lines starting with `$ ` are commands (the rest is output).
 *
 * Markers: HTML comments on the lines right before a block's fence (blank lines between allowed):
 * - `<!-- not run: REASON -->`: the block is not run by the doc test (it needs a second machine, a
 *   real cloud, a terminal, the whole suite...). The reason is visible in the doc's source and the
 *   test lists every such block and pins the list.
 * - `<!-- given: COMMAND -->`: the state the prose around the block assumes (e.g. "with the node
 *   running") is made by running COMMAND (as written; a server in the background) before the
 *   block. Also listed by the test.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..');

export interface DocCommand {
  /** the command as written (continuation lines joined with their backslash-newline kept) */
  text: string;
  /** 1-based line of the command's first line in the doc */
  line: number;
}

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence */
  line: number;
  lang: string;
  commands: DocCommand[];
  notRun?: string;
  given: string[];
}

/** The docs the rule covers, repository-relative, in a stable order. */
export function docFiles(root = repoRoot): string[] {
  const files = ['README.md'];
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(join(root, group)).sort()) {
      if (existsSync(join(root, group, name, 'README.md'))) files.push(`${group}/${name}/README.md`);
    }
  }
  for (const name of readdirSync(join(root, 'docs')).sort()) if (name.endsWith('.md')) files.push(`docs/${name}`);
  return files;
}

const FENCE = /^\s*```\s*([A-Za-z0-9_-]*)\s*$/;
const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);

export function extractBlocks(file: string, text: string): DocBlock[] {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const lang = open[1]!;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    if (SHELL_LANGS.has(lang)) {
      // markers: the HTML comments right above the fence (blank lines may separate them)
      let notRun: string | undefined;
      const given: string[] = [];
      for (let j = i - 1; j >= 0; j--) {
        const l = lines[j]!.trim();
        if (l === '') continue;
        const m = /^<!--\s*(not run|given):\s*([\s\S]*?)\s*-->$/.exec(l);
        if (!m) break;
        if (m[1] === 'not run') notRun = m[2]!;
        else given.unshift(m[2]!);
      }
      blocks.push({ file, line: i + 1, lang, commands: commandsOf(lang, lines.slice(i + 1, end), i + 2), notRun, given });
    }
    i = end;
  }
  return blocks;
}

function commandsOf(lang: string, body: string[], firstLine: number): DocCommand[] {
  const out: DocCommand[] = [];
  for (let k = 0; k < body.length; k++) {
    let l = body[k]!;
    const line = firstLine + k;
    if (lang === 'console') {
      if (!l.startsWith('$ ')) continue;
      l = l.slice(2);
    }
    if (l.trim() === '' || l.trim().startsWith('#')) continue;
    let text = l;
    while (/\\\s*$/.test(text) && k + 1 < body.length) {
      k++;
      text += `\n${body[k]!}`;
    }
    out.push({ text, line });
  }
  return out;
}

export function allBlocks(root = repoRoot): DocBlock[] {
  return docFiles(root).flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
}
