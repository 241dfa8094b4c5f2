/** Validation issues and the coded error built from them (PROFILE_INVALID / PROFILE_TOO_LARGE). */
import { ModelErrorCode, modelError } from './errors.js';

export interface ValidationIssue {
  /** dotted path: 'parameters.tools.0.function.parameters', 'messages.2.content' */
  path: string;
  /** stable rule name, e.g. 'invalid_type', 'too_long', 'unknown-parameter', 'json-schema' */
  rule: string;
  message: string;
  /** for unknown keys: the known key meant, or where the value belongs */
  suggestion?: string;
}

/** Rules that make the error PROFILE_TOO_LARGE instead of PROFILE_INVALID. */
export const SIZE_RULES: ReadonlySet<string> = new Set(['too_long', 'max-keys', 'max-items', 'max-profile-bytes']);
export const MAX_REPORTED_ISSUES = 10;

export class Issues {
  readonly list: ValidationIssue[] = [];
  /** total count (only the first MAX_REPORTED_ISSUES are kept) */
  count = 0;

  add(path: string, rule: string, message: string, suggestion?: string): false {
    this.count++;
    if (this.list.length < MAX_REPORTED_ISSUES) {
      const issue: ValidationIssue = { path, rule, message };
      if (suggestion !== undefined) issue.suggestion = suggestion;
      this.list.push(issue);
    }
    return false;
  }

  get ok(): boolean {
    return this.count === 0;
  }
}

export const join = (path: string, key: string | number): string => (path === '' ? String(key) : `${path}.${key}`);

/** The coded error for a non-empty issue list. */
export function issuesError(issues: readonly ValidationIssue[]): Error {
  const size = issues.find((i) => SIZE_RULES.has(i.rule));
  const head = size ?? issues[0];
  const code = size ? ModelErrorCode.TOO_LARGE : ModelErrorCode.INVALID;
  const hint = head?.suggestion !== undefined ? ` (${head.suggestion})` : '';
  const details: Record<string, unknown> = { path: head?.path ?? '', rule: head?.rule ?? 'invalid', issues: issues.map((i) => ({ ...i })) };
  if (head?.suggestion !== undefined) details['suggestion'] = head.suggestion;
  return modelError(code, `invalid profile: ${head?.path || '(root)'}: ${head?.message ?? 'invalid'}${hint}`, details);
}
