/**
 * Name rules the dashboard checks before asking the node (the node checks them again).
 * Parameters (typed numbers, JSON values, the node's own rules) live in jsonparams.ts.
 */
export const PARAM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const TEMPLATE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const PROFILE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
