/** Side-by-side diff of two versions: text fields with marked deletions/insertions, values as JSON. */
import type { ProfileDiff } from '@profilesync/core';
import { groupChanges, showValue, splitSides } from '../lib/diffsides.js';
import { MarkedText, type MarkedRun } from './MarkedText.js';

const Runs = ({ runs }: { runs: MarkedRun[] }) => <MarkedText runs={runs} titles={{ del: 'removed', ins: 'added' }} />;

const KIND: Record<string, string> = { added: 'added', removed: 'removed', changed: 'changed' };

export function DiffView({ diff, fromLabel, toLabel }: { diff: ProfileDiff; fromLabel: string; toLabel: string }) {
  if (diff.changes.length === 0) return <p data-testid="diff-empty">The two versions have the same content.</p>;
  return (
    <table class="diff" data-testid="diff">
      <caption class="sr-only">
        Changes from {fromLabel} to {toLabel}
      </caption>
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before ({fromLabel})</th>
          <th scope="col">After ({toLabel})</th>
        </tr>
      </thead>
      {groupChanges(diff.changes).map((g) => (
        <tbody key={g.group}>
          {g.changes.map((c) => {
            const sides = c.text ? splitSides(c.text) : undefined;
            return (
              <tr key={c.path} data-path={c.path}>
                <th scope="row">
                  <code>{c.path}</code>
                  <span class={`kind kind-${c.kind}`}> ({KIND[c.kind] ?? c.kind})</span>
                </th>
                <td class="before">{sides ? <Runs runs={sides.before} /> : c.kind === 'added' ? <span class="muted">absent</span> : <pre class="diff-text"><del>{showValue(c.before)}</del></pre>}</td>
                <td class="after">{sides ? <Runs runs={sides.after} /> : c.kind === 'removed' ? <span class="muted">absent</span> : <pre class="diff-text"><ins>{showValue(c.after)}</ins></pre>}</td>
              </tr>
            );
          })}
        </tbody>
      ))}
    </table>
  );
}
