/**
 * Secrets never reach a hosted model: common key formats and long high-entropy tokens in
 * observations and file contents are replaced before anything is sent, and counted.
 */
const PATTERNS: [kind: string, re: RegExp][] = [
  ["private_key", /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g],
  ["openai_key", /\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{16,}\b/g],
  ["anthropic_key", /\bsk-ant-[A-Za-z0-9_-]{16,}\b/g],
  ["aws_access_key", /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g],
  ["github_token", /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b/g],
  ["slack_token", /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g],
  ["google_api_key", /\bAIza[0-9A-Za-z_-]{35}\b/g],
  ["jwt", /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g],
  ["password_assignment", /(?<=\b(?:password|passwd|secret|api_key|apikey|token)\s*[:=]\s*["']?)[^\s"']{8,}/gi],
];

/** Long runs of base64/hex-ish characters with high entropy (random keys, not words or paths). */
const CANDIDATE = /[A-Za-z0-9+/_=-]{32,}/g;

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

export interface Redaction {
  text: string;
  count: number;
  kinds: Record<string, number>;
}

export function redact(text: string): Redaction {
  const kinds: Record<string, number> = {};
  let out = text;
  for (const [kind, re] of PATTERNS) {
    out = out.replace(re, () => {
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      return `[REDACTED:${kind}]`;
    });
  }
  out = out.replace(CANDIDATE, (m) => {
    // Hashes in git output (40 hex) are common and harmless; random secrets have mixed classes.
    if (/^[0-9a-f]+$/.test(m) && (m.length === 40 || m.length === 64)) return m;
    const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((r) => r.test(m)).length;
    if (classes < 3 || entropy(m) < 4.2) return m;
    kinds.high_entropy = (kinds.high_entropy ?? 0) + 1;
    return "[REDACTED:high_entropy]";
  });
  const count = Object.values(kinds).reduce((a, b) => a + b, 0);
  return { text: out, count, kinds };
}
