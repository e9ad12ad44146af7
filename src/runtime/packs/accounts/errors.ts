/**
 * What the accounts services throw: misuse a retry cannot fix (an unknown account, a key in the
 * wrong state, a tampered audit log). A binding's retry policy can match them by `name`.
 */
export class AccountsError extends Error {
  override name = 'AccountsError';
}

export class AccountNotFoundError extends AccountsError {
  override name = 'AccountNotFoundError';
  constructor(what: string, id: string) {
    super(`No ${what} ${JSON.stringify(id)}.`);
  }
}

/** A key or deletion request is not in a state that allows the operation. */
export class AccountStateError extends AccountsError {
  override name = 'AccountStateError';
}

/** The audit log's hash chain does not verify: a row was changed or removed. */
export class AuditChainError extends AccountsError {
  override name = 'AuditChainError';
}
