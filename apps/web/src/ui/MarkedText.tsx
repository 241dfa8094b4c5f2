/** A text in runs, each plain, struck out (<del>) or marked as added (<ins>), with a tooltip per kind. */
export interface MarkedRun {
  text: string;
  mark: 'same' | 'del' | 'ins';
}

export function MarkedText({ runs, titles }: { runs: MarkedRun[]; titles: { del: string; ins: string } }) {
  return (
    <pre class="diff-text">
      {runs.map((r, i) =>
        r.mark === 'same' ? (
          <span key={i}>{r.text}</span>
        ) : r.mark === 'del' ? (
          <del key={i} title={titles.del}>
            {r.text}
          </del>
        ) : (
          <ins key={i} title={titles.ins}>
            {r.text}
          </ins>
        ),
      )}
    </pre>
  );
}
