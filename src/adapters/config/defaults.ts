/**
 * Built-in configuration: five lanes (async, sandbox, premium, regulated, eval), the three tiers
 * (with no endpoints until you configure them, so nothing is ever called that you did not name),
 * two sandbox profiles and the local Docker host. Every layer above merges onto this, key by key.
 */
export const BUILTIN_CONFIG = {
  defaults: { lane: "async" },
  tiers: {
    local: { kind: "local", description: "llama.cpp llama-server on your own GPU", endpoints: [] },
    standard: { kind: "hosted", description: "hosted OpenAI-compatible API, mid-priced model", endpoints: [] },
    premium: { kind: "hosted", description: "hosted OpenAI-compatible API, top model", endpoints: [] },
  },
  lanes: {
    async: {
      description: "cheap background work: local first, auto-approved up to C1 ($)",
      tiers: ["local", "standard"],
      approval: { mode: "auto", autoApproveUpTo: "C1" },
      budget: { capUsd: 0.5 },
    },
    sandbox: {
      description: "code execution with the network off",
      tiers: ["local", "standard"],
      sandbox: "default",
      approval: { mode: "auto", autoApproveUpTo: "C1" },
      budget: { capUsd: 1 },
    },
    premium: {
      description: "hosted top tier, always asks",
      tiers: ["premium"],
      approval: { mode: "always" },
      budget: { capUsd: 10 },
      escalation: "never",
    },
    regulated: {
      description: "local tiers only, mandatory human approval, full audit",
      tiers: ["local"],
      allowHosted: false,
      approval: { mode: "always" },
      escalation: "never",
      audit: "full",
    },
    eval: {
      description: "fixed budget cap, batch friendly",
      tiers: ["standard"],
      approval: { mode: "auto", autoApproveUpTo: "C2" },
      budget: { capUsd: 2 },
      escalation: "never",
      concurrency: 8,
    },
  },
  sandbox: {
    profiles: {
      default: {},
      compat: { readOnlyRoot: false },
      // The hardened defaults under gVisor: for code nobody has read.
      strict: { runtime: "runsc" },
    },
  },
  hosts: { local: {} },
} as const;
