/**
 * A CodeMirror 6 editor bound live to one Y.Text with y-codemirror.next's yCollab: local
 * keystrokes become Yjs updates, remote ones appear as they arrive, and other people's
 * cursors and selections are drawn from awareness (their name and color). Read-only mode
 * (viewer tokens) makes the editor non-editable; the text still updates live.
 */
import { useEffect, useRef } from 'preact/hooks';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, drawSelection } from '@codemirror/view';
import { defaultKeymap } from '@codemirror/commands';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';

export interface CollabTextProps {
  ytext: Y.Text;
  awareness: Awareness;
  readOnly: boolean;
  /** id of the visible label element */
  labelId: string;
  testId?: string;
  minLines?: number;
}

export function CollabText({ ytext, awareness, readOnly, labelId, testId, minLines = 3 }: CollabTextProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const undoManager = new Y.UndoManager(ytext);
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
          drawSelection(),
          EditorView.lineWrapping,
          EditorState.readOnly.of(readOnly),
          EditorView.editable.of(!readOnly),
          EditorView.contentAttributes.of({
            'aria-labelledby': labelId,
            'aria-multiline': 'true',
            'aria-readonly': readOnly ? 'true' : 'false',
            ...(readOnly ? { tabindex: '0' } : {}),
          }),
          EditorView.theme({ '.cm-content': { minHeight: `${minLines * 1.45}em` } }),
          yCollab(ytext, awareness, { undoManager }),
        ],
      }),
    });
    return () => {
      view.destroy();
      undoManager.destroy();
    };
  }, [ytext, awareness, readOnly]);
  return <div ref={host} class={`collab-text${readOnly ? ' readonly' : ''}`} data-testid={testId} />;
}
