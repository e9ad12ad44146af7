/**
 * Errors a caller can act on, thrown by the pack's services. The name is what a flow's retry
 * policy matches (`ErrorEquals`), so each cause has its own; none of them is worth retrying
 * as-is, which is why delivery failures are not errors but delivery states.
 */
export type WebhookErrorName =
  | 'WebhookInvalidSecret'
  | 'WebhookInvalidRequest'
  | 'WebhookUnknownEndpoint'
  | 'WebhookEndpointConflict'
  | 'WebhookKeyConflict'
  | 'WebhookUnknownDelivery'
  | 'WebhookNotRedeliverable';

export class WebhookError extends Error {
  override readonly name: WebhookErrorName;

  constructor(name: WebhookErrorName, message: string) {
    super(message);
    this.name = name;
  }
}
