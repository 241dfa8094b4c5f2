/** Types of scripts/errors-doc.mjs (used by test/docs.test.ts). */
export declare const SOURCES: { title: string; readme: string }[];
export declare function httpStatuses(): Map<string, number>;
export declare function readmeErrorRows(path: string): { codes: string[]; codeCell: string; when: string; todo: string }[];
export declare function generate(): string;
export const HINTS_FILE: string;
export function generateHints(): string;
