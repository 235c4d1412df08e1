/** Text styles for plain output (ANSI SGR codes), shared by the reports and the CLI's writer. */
export const STYLE_CODES = { red: 31, green: 32, yellow: 33, blue: 34, gray: 90, bold: 1, dim: 2 } as const;
export type Style = keyof typeof STYLE_CODES;
