/**
 * Stable `ApplicationFailure` types for model calls. Pure (no imports): the workflow's model chain decides on them.
 */
export const ModelFailure = {
  rateLimited: 'ModelRateLimited',
  overloaded: 'ModelOverloaded',
  serverError: 'ModelServerError',
  connection: 'ModelConnectionError',
  timeout: 'ModelTimeout',
  badRequest: 'ModelBadRequest',
  authentication: 'ModelAuthenticationFailed',
  permission: 'ModelPermissionDenied',
  notFound: 'ModelNotFound',
  requestTooLarge: 'ModelRequestTooLarge',
  invalidResponse: 'ModelInvalidResponse',
  spendLimit: 'ModelSpendLimitReached',
  budgetExceeded: 'TenantBudgetExceeded',
} as const;
export type ModelFailureType = (typeof ModelFailure)[keyof typeof ModelFailure];

/** Failures that say this model cannot serve us: the chain moves on without spending more attempts on it. */
export const MODEL_UNAVAILABLE: readonly string[] = [ModelFailure.notFound, ModelFailure.permission];

/** Failures of the request itself: another model would fail the same way, so the turn degrades at once. */
export const REQUEST_REJECTED: readonly string[] = [
  ModelFailure.badRequest,
  ModelFailure.requestTooLarge,
  ModelFailure.authentication,
  ModelFailure.spendLimit,
];

/**
 * A reply attempt that failed on the database (reading its context, recording the call), not on the model: the
 * chain tries the same model again once the database answers, spending none of the model's attempt budget.
 */
export const STORAGE_UNAVAILABLE = 'StorageUnavailable';
