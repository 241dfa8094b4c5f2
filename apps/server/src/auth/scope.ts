/**
 * Token scopes: a token restricted to grant globs (`profiles: ['team-a-*']`) is a scoped token;
 * `null` means every profile. A scoped admin manages only what lies inside its own scope
 * (issue 11.6): it grants only scopes within its own, sees and changes only tokens whose scope is
 * within its own, reads only the audit records of profiles it is granted, and has none of the
 * node-wide powers (peers, sync) that would reach beyond it.
 *
 * `scopeWithin(inner, outer)` is exact: every string the inner globs match is matched by one of
 * the outer globs (language inclusion of the glob automata, decided on the product of their
 * subset constructions), so `a?*` lies within `a*` and `ab*` within `a*` but `a*` not within
 * `ab*`. A search that grows beyond a bound answers "not within" (refuse, never over-grant).
 */
import { roleAllows, type Permission, type Role } from './policy.js';

/** Powers over the whole node: a scoped admin does not have them (they reach every profile). */
export const NODE_WIDE_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(['peer:read', 'peer:manage', 'sync:run', 'backup:run', 'webhook:manage']);

/** Whether a token with this role and scope holds `permission` (role table, minus node-wide powers when scoped). */
export function principalAllows(p: { role: Role; profiles: readonly string[] | null }, permission: Permission): boolean {
  return roleAllows(p.role, permission) && (p.profiles === null || !NODE_WIDE_PERMISSIONS.has(permission));
}

/** Every character a profile id may hold (the glob alphabet minus `*` and `?`). */
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
const MAX_STATES = 50_000;

type States = number[];

/** Adds the positions reachable through `*` (which may match nothing); sorted, unique. */
function closure(glob: string, states: Iterable<number>): States {
  const out = new Set<number>();
  const stack = [...states];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (out.has(i)) continue;
    out.add(i);
    if (glob[i] === '*') stack.push(i + 1);
  }
  return [...out].sort((a, b) => a - b);
}

/** Positions after reading one character `c` (null = a character that appears in no glob). */
function step(glob: string, states: States, c: string | null): States {
  const next: number[] = [];
  for (const i of states) {
    const t = glob[i];
    if (t === undefined) continue;
    if (t === '*') next.push(i);
    else if (t === '?' || t === c) next.push(i + 1);
  }
  return closure(glob, next);
}

const accepts = (glob: string, states: States): boolean => states.includes(glob.length);

/** Whether every string `inner` matches is matched by at least one of `outer`. */
export function globWithin(inner: string, outer: readonly string[]): boolean {
  if (outer.includes(inner)) return true;
  const literals = new Set<string>();
  for (const g of [inner, ...outer]) for (const ch of g) if (ch !== '*' && ch !== '?') literals.add(ch);
  // one representative of every character no glob names (they all behave alike)
  const alphabet: (string | null)[] = [...literals];
  if ([...ID_CHARS].some((ch) => !literals.has(ch))) alphabet.push(null);

  type Node = { a: States; b: States[] };
  const key = (n: Node): string => `${n.a.join(',')}|${n.b.map((s) => s.join(',')).join('|')}`;
  const start: Node = { a: closure(inner, [0]), b: outer.map((g) => closure(g, [0])) };
  const seen = new Set<string>([key(start)]);
  const queue: Node[] = [start];
  while (queue.length > 0) {
    const n = queue.shift()!;
    if (accepts(inner, n.a) && !n.b.some((s, k) => accepts(outer[k]!, s))) return false;
    for (const c of alphabet) {
      const a = step(inner, n.a, c);
      if (a.length === 0) continue; // the inner glob cannot match anything from here
      const next: Node = { a, b: n.b.map((s, k) => step(outer[k]!, s, c)) };
      const k = key(next);
      if (seen.has(k)) continue;
      if (seen.size >= MAX_STATES) return false;
      seen.add(k);
      queue.push(next);
    }
  }
  return true;
}

/** Whether the scope `inner` (null = every profile) lies within `outer`. */
export function scopeWithin(inner: readonly string[] | null, outer: readonly string[] | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return inner.every((g) => globWithin(g, outer));
}
