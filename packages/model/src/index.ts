export * from './types.js';
export { ModelErrorCode, modelError } from './errors.js';
export { render, chatRequest, compileTemplate, templateVariables, type RenderableProfile } from './render.js';
export {
  parseRefSpec,
  profileTag,
  stateHash,
  formatV2Ref,
  v2Ref,
  isStoredRef,
  assertRefOf,
  isLabelName,
  LABEL_PATTERN,
  LATEST_LABEL,
  V1_PREFIX,
  V2_PREFIX,
  V2_REF_CHARS,
  MAX_V1_REF_CHARS,
  type RefSpec,
} from './refs.js';
export { PROFILE_ID_PATTERN, isProfileId, assertProfileId, slugify, idForName, MAX_SLUG_CHARS, FALLBACK_SLUG } from './ids.js';
export { isWellFormed, wellFormed, textProblem, lineProblem, commonEnds, STRING_PROBLEM_MESSAGE, type StringProblem } from './strings.js';
export { Issues, issuesError, SIZE_RULES, type ValidationIssue } from './issues.js';
export { checkJson, checkString, isPlainObject, JSON_LIMITS } from './json.js';
export { checkJsonSchema, DRAFT_2020_12 } from './json-schema.js';
export {
  PARAMETER_SPECS,
  PARAMETER_LIMITS,
  KNOWN_PARAMETERS,
  NESTED_PARAMETERS,
  TOOL_NAME_PATTERN,
  EXTRA_KEY_PATTERN,
  checkParameters,
  checkTool,
  upgradeParameters,
  suggest,
  editDistance,
} from './parameters.js';
export {
  FIELD_LIMITS,
  DEFAULT_MAX_PROFILE_BYTES,
  TEMPLATE_NAME_PATTERN,
  KEY_PATTERN,
  RESERVED_LABELS,
  CONTENT_KEYS,
  checkField,
  checkMessages,
  contentIssues,
  validateContent,
  validateFields,
  parameterIssues,
  type ContentKey,
} from './content.js';
export { newMessageId, positionBetween, positionsBetween, initialPositions, compareByPosition, isPosition, MESSAGE_ID_PATTERN, MAX_POSITION_CHARS } from './positions.js';
export { base64url, sha256Bytes } from './hash.js';
