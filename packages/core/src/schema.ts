/**
 * Validation of profile content: the one validator of @profilesync/model, applied at the edge of
 * every write path (create, patch, revert, label moves, import, remote updates from peers and
 * /yjs clients), plus core's own rule that content belongs to its profile.
 */
import { validateContent as validateModel, validateFields as validateModelFields } from '@profilesync/model';
import type { ProfileContent } from './model.js';

export {
  DEFAULT_MAX_PROFILE_BYTES,
  FIELD_LIMITS,
  KEY_PATTERN,
  LABEL_PATTERN,
  RESERVED_LABELS,
  TEMPLATE_NAME_PATTERN,
  type ValidationIssue,
} from '@profilesync/model';

/** Validates full content; throws PROFILE_INVALID / PROFILE_TOO_LARGE with { path, rule, issues }. */
export function validateContent(content: unknown): ProfileContent {
  return validateModel(content);
}

/**
 * Validates only the listed top-level fields of content whose other fields are known valid;
 * `valid` (known-valid content, e.g. the content before a patch): inside `parameters`, a key
 * whose value is the very same object there is not checked again.
 */
export function validateFields(content: ProfileContent, keys: Iterable<keyof ProfileContent>, valid?: ProfileContent): ProfileContent {
  return validateModelFields(content, keys as Iterable<string>, valid);
}
