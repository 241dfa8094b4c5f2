/**
 * Profiles: a page at a time from the node (server-side search over prompt text, sort, filters
 * by model / label / tag, keyset pages), updated live from the change feed (or polled), with
 * create, duplicate, delete, import (with a per-profile report) and export. An empty node shows
 * how to start: create the first profile, or import an export.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ListPage, ProfileSummary, ProfileView } from '@profilesync/core';
import { ApiError, errorText, type Api, type PageQuery } from '../lib/api.js';
import { watchChanges, type FeedMode } from '../lib/changes.js';
import { when } from '../lib/format.js';
import { DEFAULT_PAGE_SIZE, DEFAULT_SORT, fieldLabel, firstPageQuery, markWords, PAGE_SIZES, rangeText, searchWords, SORT_CHOICES, sortChoice } from '../lib/list.js';
import { EXPORT_FORMAT } from '../lib/merge.js';
import { href, navigate } from '../lib/router.js';
import { roleAllows } from '../lib/session.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { CreateDialog, DuplicateDialog } from './ProfileDialogs.js';
import { ImportButton, ImportReport, type ImportResult } from './ImportReport.js';
import { ErrorAlert, Grid } from './parts.js';
import { announce, announceError } from './status.js';

type Row = ListPage['profiles'][number] & { conflicts?: number };
type Facets = { models: string[]; labels: string[]; tags: string[] };

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** One filter of the list: "any" or one of the values the node's profiles use. */
function FilterSelect({ id, label, value, options, onChange }: { id: string; label: string; value: string; options: string[]; onChange: (value: string) => void }) {
  return (
    <div>
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {options.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
    </div>
  );
}

const FEED_TEXT: Record<FeedMode, string> = {
  connecting: 'Connecting to live updates…',
  live: 'Live: changes appear as they happen',
  polling: 'Refreshing every 5 s (this node has no change feed)',
  offline: 'Live updates interrupted; reconnecting…',
};

/** Every profile matching the query, a page of 1000 at a time (for export). */
async function allMatching(api: Api, q: PageQuery): Promise<ProfileSummary[]> {
  const out: ProfileSummary[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await api.listPage({ ...q, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.profiles);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/** A cell's text with every search word marked (the name, id and model are searched too). */
function Marked({ text, words }: { text: string; words: string[] }) {
  if (words.length === 0) return <>{text}</>;
  return <>{markWords(text, words).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}</>;
}

function Snippet({ row, words }: { row: Row; words: string[] }) {
  const m = row.match;
  if (!m || m.field === 'name') return null;
  return (
    <div class="match">
      <span class="muted">in {fieldLabel(m.field)}: </span>
      {markWords(m.snippet, words).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </div>
  );
}

function Onboarding({ canWrite, onCreate, onImported }: { canWrite: boolean; onCreate: () => void; onImported: (r: ImportResult) => void }) {
  return (
    <section class="card onboarding" aria-labelledby="onboarding-title" data-testid="onboarding">
      <h2 id="onboarding-title">This node has no profiles yet</h2>
      {canWrite ? (
        <>
          <p>A profile holds one model's system message, prompt templates and parameters. Start with one of these:</p>
          <ol>
            <li>
              <button type="button" class="primary" onClick={onCreate}>
                Create your first profile
              </button>{' '}
              — a name and a model id are enough; edit the rest live afterwards.
            </li>
            <li>
              <ImportButton label="Import a JSON export" onDone={onImported} /> — a file from <code>profilesync export</code> or this dashboard's
              “Export JSON”.
            </li>
          </ol>
          <p class="muted">
            From a terminal: <code>profilesync profile create --name "Support bot" --model gpt-4o</code>, or peer this node with another one (Peers) to receive its
            profiles.
          </p>
        </>
      ) : (
        <p>There is nothing you can read here yet. Someone with an editor or admin token can create profiles, or grant your token access to some.</p>
      )}
    </section>
  );
}

export function ProfileList() {
  const { api, session } = useApp();
  const canWrite = roleAllows(session.role, 'write');
  const [search, setSearch] = useState('');
  const [sortValue, setSortValue] = useState(DEFAULT_SORT);
  const [filter, setFilter] = useState({ modelId: '', label: '', tag: '', conflicts: false });
  const [pageSize, setPageSize] = useState<number>(DEFAULT_PAGE_SIZE);
  // keyset pages: cursors[i] opens page i (undefined for the first)
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  // the page on screen, with the page number it was loaded for (the pager moves before it arrives);
  // on a reload the first page may already be here (the inline script of index.html asked before the app loaded)
  const [primed] = useState(() => api.listPagePrimed(firstPageQuery()));
  const [page, setPage] = useState<(ListPage & { facets?: Facets; index: number; size: number; q: string | undefined }) | undefined>(() => (primed ? { ...primed, index: 0, size: DEFAULT_PAGE_SIZE, q: undefined } : undefined));
  const [facets, setFacets] = useState<Facets>(() => primed?.facets ?? { models: [], labels: [], tags: [] });
  const skipFirstLoad = useRef(primed !== undefined);
  const [loadError, setLoadError] = useState<string | undefined>();
  const [feed, setFeed] = useState<FeedMode>('connecting');
  const [creating, setCreating] = useState(false);
  const [duplicating, setDuplicating] = useState<ProfileSummary | undefined>();
  const [deleting, setDeleting] = useState<ProfileSummary | undefined>();
  const [report, setReport] = useState<ImportResult | undefined>();
  const seq = useRef(0);
  const abort = useRef<AbortController | undefined>(undefined);

  const choice = sortChoice(sortValue);
  const pageIndex = cursors.length - 1;
  const query: PageQuery = {
    ...(search.trim() ? { q: search.trim() } : {}),
    sort: choice.sort,
    order: choice.order,
    limit: pageSize,
    ...(filter.modelId ? { modelId: filter.modelId } : {}),
    ...(filter.label ? { label: filter.label } : {}),
    ...(filter.tag ? { tag: filter.tag } : {}),
    ...(filter.conflicts ? { conflicts: 'open' as const } : {}),
  };
  const cursor = cursors[pageIndex];
  const queryKey = JSON.stringify(query);

  const load = async () => {
    const mine = ++seq.current;
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    try {
      const r = await api.listPage({ ...query, ...(cursor ? { cursor } : {}), facets: true }, ctl.signal);
      if (mine !== seq.current) return;
      if (r.profiles.length === 0 && pageIndex > 0) {
        setCursors((c) => c.slice(0, -1)); // the page emptied under us (deletes): step back
        return;
      }
      setPage({ ...r, index: pageIndex, size: pageSize, q: query.q });
      if (r.facets) setFacets(r.facets);
      setLoadError(undefined);
    } catch (err) {
      if (mine !== seq.current || (err as Error).name === 'AbortError') return;
      if (err instanceof ApiError && err.code === 'PROFILE_LIST_INVALID') {
        setCursors([undefined]); // a cursor from before a sort change: start again
        return;
      }
      setLoadError(errorText(err));
    }
  };
  const loadRef = useRef(load);
  loadRef.current = load;

  // a layout effect: the request (or the one the inline script of index.html started) is taken before the first frame, not after it
  useLayoutEffect(() => {
    if (skipFirstLoad.current) {
      skipFirstLoad.current = false; // the primed page is on screen already
      return;
    }
    void load();
  }, [queryKey, cursor]);
  // a new search, sort, filter or page size starts at the first page
  const resetPages = () => setCursors([undefined]);

  // live updates: reload the current page (debounced) when anything changes on the node
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = watchChanges(api, {
      onMode: setFeed,
      onChange: () => {
        if (timer !== undefined) return;
        timer = setTimeout(() => {
          timer = undefined;
          void loadRef.current();
        }, 250);
      },
    });
    return () => {
      stop();
      if (timer !== undefined) clearTimeout(timer);
      abort.current?.abort();
    };
  }, []);

  const words = useMemo(() => searchWords(search.trim()), [search]);
  const rows: Row[] = page?.profiles ?? [];
  const filtered = query.q !== undefined || filter.modelId !== '' || filter.label !== '' || filter.tag !== '' || filter.conflicts;
  const emptyNode = page !== undefined && page.total === 0 && !filtered && pageIndex === 0;

  const exportJson = async () => {
    try {
      const { limit: _l, ...q } = query;
      const list = await allMatching(api, q);
      const profiles: ProfileView[] = [];
      for (let i = 0; i < list.length; i += 8) {
        profiles.push(...(await Promise.all(list.slice(i, i + 8).map((p) => api.getProfile(p.id)))));
        if (list.length > 200 && i % 200 === 0) announce(`Exporting… ${profiles.length} of ${list.length}`);
      }
      download(`profiles-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`, `${JSON.stringify({ format: EXPORT_FORMAT, exportedAt: new Date().toISOString(), profiles }, null, 2)}\n`);
      announce(`Exported ${profiles.length} profiles.`);
    } catch (err) {
      announceError(err, 'Export');
    }
  };

  const onImported = (r: ImportResult) => {
    setReport(r);
    void load();
  };

  return (
    <section aria-labelledby="profiles-title">
      <div class="page-head">
        <h1 id="profiles-title">Profiles</h1>
        <div class="actions">
          {canWrite && (
            <button type="button" class="primary" onClick={() => setCreating(true)}>
              New profile
            </button>
          )}
          <button type="button" onClick={exportJson} disabled={!page || page.total === 0}>
            Export JSON
          </button>
          {canWrite && <ImportButton label="Import JSON" onDone={onImported} />}
        </div>
      </div>
      {report && <ImportReport result={report} onDismiss={() => setReport(undefined)} />}
      {emptyNode ? (
        <Onboarding canWrite={canWrite} onCreate={() => setCreating(true)} onImported={onImported} />
      ) : (
        <>
          <form class="filters" role="search" aria-label="Profiles" onSubmit={(e) => e.preventDefault()}>
            <div class="grow">
              <label for="search">Search</label>
              <input
                id="search"
                type="search"
                value={search}
                placeholder="name, id, model, or words in prompts and templates"
                aria-describedby="search-help"
                onInput={(e) => {
                  setSearch(e.currentTarget.value);
                  resetPages();
                }}
              />
              <span id="search-help" class="sr-only">
                Every word must occur in the profile; searches system messages, templates and messages too.
              </span>
            </div>
            <div>
              <label for="sort">Sort by</label>
              <select
                id="sort"
                value={sortValue}
                onChange={(e) => {
                  setSortValue(e.currentTarget.value);
                  resetPages();
                }}
              >
                {SORT_CHOICES.map((c) => (
                  <option key={c.value} value={c.value}>
                    {c.label}
                  </option>
                ))}
              </select>
            </div>
            <FilterSelect id="f-model" label="Model" value={filter.modelId} options={facets.models} onChange={(modelId) => (setFilter({ ...filter, modelId }), resetPages())} />
            <FilterSelect id="f-label" label="Label" value={filter.label} options={facets.labels} onChange={(label) => (setFilter({ ...filter, label }), resetPages())} />
            <FilterSelect id="f-tag" label="Tag" value={filter.tag} options={facets.tags} onChange={(tag) => (setFilter({ ...filter, tag }), resetPages())} />
            <div class="checkbox">
              <input id="f-conflicts" type="checkbox" checked={filter.conflicts} onChange={(e) => (setFilter({ ...filter, conflicts: e.currentTarget.checked }), resetPages())} />
              <label for="f-conflicts">Only with open conflicts</label>
            </div>
          </form>
          <p class="feed muted" data-testid="feed" data-mode={feed}>
            <span aria-hidden="true" class={`feed-dot feed-${feed}`} /> {FEED_TEXT[feed]}
          </p>
          <ErrorAlert message={loadError} />
          {!page && !loadError && <p>Loading…</p>}
          {page && (
            <>
              <p class="count" role="status" data-testid="list-count">
                {page.total === 0 ? 'No profiles match.' : `${rangeText(page.index, page.size, rows.length, page.total)} profiles${page.q ? ` matching “${page.q}”` : ''}`}
              </p>
              <Grid testId="profile-table" caption={`Profiles, ${rangeText(page.index, page.size, rows.length, page.total)}, sorted by ${choice.label}`} columns={['Name', 'Id', 'Model', 'Labels', 'Tags', 'Updated']} actions>
                {rows.map((p) => (
                  <tr key={p.id} data-id={p.id} class={p.conflicts ? 'has-conflicts' : undefined}>
                    {/* elementtiming: the browser reports when this cell's text is painted (the web-list-10k benchmark reads it) */}
                    <td {...{ elementtiming: `profile:${p.id}` }}>
                      <a href={href({ name: 'editor', id: p.id })}>
                        <Marked text={p.name} words={words} />
                      </a>
                      {p.conflicts ? (
                        <span class="chip conflict" data-testid="conflict-mark">
                          ⚠ {p.conflicts} open conflict{p.conflicts === 1 ? '' : 's'}
                        </span>
                      ) : null}
                      <Snippet row={p} words={words} />
                    </td>
                    <td>
                      <code>
                        <Marked text={p.id} words={words} />
                      </code>
                    </td>
                    <td>
                      <Marked text={p.modelId} words={words} />
                    </td>
                    <td>
                      {p.labels.map((l) => (
                        <span class="chip" key={l}>
                          {l}
                        </span>
                      ))}
                    </td>
                    <td>
                      {p.tags.map((t) => (
                        <span class="chip tag" key={t}>
                          {t}
                        </span>
                      ))}
                    </td>
                    <td>{when(p.updatedAt)}</td>
                    <td class="row-actions">
                      <a href={href({ name: 'history', id: p.id })} aria-label={`History of ${p.name}`}>
                        History
                      </a>
                      {canWrite && (
                        <button type="button" class="link" onClick={() => setDuplicating(p)} aria-label={`Duplicate ${p.name}`}>
                          Duplicate
                        </button>
                      )}
                      {canWrite && (
                        <button type="button" class="link danger" onClick={() => setDeleting(p)} aria-label={`Delete ${p.name}`}>
                          Delete
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </Grid>
              <nav class="pager" aria-label="Pages">
                <button type="button" onClick={() => setCursors((c) => c.slice(0, Math.max(1, page.index)))} disabled={page.index === 0 || page.index !== pageIndex}>
                  ← Previous page
                </button>
                <span>Page {page.index + 1}</span>
                <button type="button" onClick={() => page.nextCursor && setCursors((c) => [...c.slice(0, page.index + 1), page.nextCursor ?? undefined])} disabled={!page.nextCursor || page.index !== pageIndex}>
                  Next page →
                </button>
                <label for="page-size">Rows per page</label>
                <select
                  id="page-size"
                  value={String(pageSize)}
                  onChange={(e) => {
                    setPageSize(Number(e.currentTarget.value));
                    resetPages();
                  }}
                >
                  {PAGE_SIZES.map((n) => (
                    <option key={n} value={String(n)}>
                      {n}
                    </option>
                  ))}
                </select>
              </nav>
            </>
          )}
        </>
      )}
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(v) => {
            announce(`Created ${v.name}.`);
            navigate({ name: 'editor', id: v.id });
          }}
        />
      )}
      {duplicating && (
        <DuplicateDialog
          source={duplicating}
          onClose={() => setDuplicating(undefined)}
          onCreated={(v) => {
            announce(`Duplicated ${duplicating.name} as ${v.name} (${v.id}).`);
            navigate({ name: 'editor', id: v.id });
          }}
        />
      )}
      {deleting && (
        <Dialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          testId="delete-dialog"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.deleteProfile(deleting.id);
            announce(`Deleted ${deleting.name}. Its history stays; a revert can restore it.`);
            await load();
          }}
        >
          <p>
            The profile <code>{deleting.id}</code> will be marked deleted: reads and writes stop, its history stays.
          </p>
        </Dialog>
      )}
    </section>
  );
}
