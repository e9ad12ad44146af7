/** What the disputes services throw: misuse a retry cannot fix. A binding's retry policy can match them by `name`. */
export class DisputesError extends Error {
  override name = 'DisputesError';
}

export class DisputeNotFoundError extends DisputesError {
  override name = 'DisputeNotFoundError';
  constructor(what: string, id: string) {
    super(`No ${what} ${JSON.stringify(id)}.`);
  }
}

/** The dispute is not in a state that allows the operation, or its response window has closed. */
export class DisputeStateError extends DisputesError {
  override name = 'DisputeStateError';
}
