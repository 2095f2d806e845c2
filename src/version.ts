/**
 * The versions Memoir promises compatibility by (semver; CHANGELOG.md has one section per contract). Each is
 * bumped by hand with its changelog entry: major for a breaking change, minor for an addition, patch for a fix.
 */

/** The HTTP API under /v1: every response carries it in API_VERSION_HEADER. */
export const API_VERSION = '1.3.0';
export const API_VERSION_HEADER = 'memoir-api-version';

/**
 * The workflow contract (workflows/contract.ts: the workflow's name, input, updates, queries and the shapes they
 * carry). A major bump means running conversations cannot be served by the new code: see docs/operations.md.
 */
export const WORKFLOW_CONTRACT_VERSION = '1.3.0';
