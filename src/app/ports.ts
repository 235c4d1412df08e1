/** The adapters a use case is given (wired in src/cli/compose.ts): endpoints and sandbox hosts for a configuration. */
import type { Config } from "../adapters/config/schema.js";
import type { ModelEndpoint, SandboxHosts } from "../core/ports.js";

export interface Adapters {
  endpoints(config: Config): Map<string, ModelEndpoint>;
  hosts(config: Config): SandboxHosts;
}
