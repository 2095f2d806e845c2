/** The client package's semver (CHANGELOG.md, "TypeScript client"); packages/client/package.json holds the same. */
export const CLIENT_VERSION = '0.3.0';
