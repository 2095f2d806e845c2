/**
 * A failure converter that moves every failure's message and stack trace into an encoded payload, so the payload
 * codec encrypts them too: an error message quoting a user's words must not sit in plaintext in a history.
 * Pure (the workflow bundle loads it through `failureConverterPath`).
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
