// What "each email at least once, deduplicated by Message-ID" means, counted from the billing
// outbox and what a real SMTP server received. The outbox cannot send exactly once: a sender
// killed after the server took a message and before the row was marked sent leaves it claimed,
// and when the claim runs out another sender sends it again. What it does promise, and what this
// counts against: every row reaches the server; each row has a Message-ID of its own, so a
// receiver that drops repeats of a Message-ID drops no other email; a copy is the same email
// again; and a row is sent at most once per claim, so copies beyond the first come only from
// claims that ran out (a dead sender), never from one sender sending twice.

/** An outbox row as the checks read it from `billing_email_outbox`. */
export interface SentOutboxRow {
  message_id: string;
  to_address: string;
  /** Claims taken on the row: each is one send at most. */
  attempts: number;
}

/** A message as the SMTP server received it. */
export interface ReceivedMessage {
  messageId: string;
  to: string[];
  subject: string;
  body: string;
}

export interface EmailDelivery {
  /** Rows the server never received under their Message-ID. */
  unreceived: number;
  /** Rows whose Message-ID another row also has: deduplicating by it would drop an email. */
  sharedIds: number;
  /** Messages whose Message-ID no row has. */
  strangers: number;
  /** Rows received more times than they were claimed: sent twice within one claim. */
  beyondClaims: number;
  /** Rows whose copies differ in recipient, subject or body, or are not addressed to the row's recipient. */
  differingCopies: number;
  /** Copies beyond the first: the same email again after a claim ran out. Allowed. */
  resent: number;
  /** Distinct Message-IDs the server received. */
  distinctReceived: number;
}

export function emailDelivery(rows: readonly SentOutboxRow[], received: readonly ReceivedMessage[]): EmailDelivery {
  const copies = new Map<string, ReceivedMessage[]>();
  for (const message of received) copies.set(message.messageId, [...(copies.get(message.messageId) ?? []), message]);
  const rowsById = new Map<string, number>();
  for (const row of rows) rowsById.set(row.message_id, (rowsById.get(row.message_id) ?? 0) + 1);
  let unreceived = 0;
  let beyondClaims = 0;
  let differingCopies = 0;
  for (const row of rows) {
    const mine = copies.get(row.message_id) ?? [];
    if (mine.length === 0) unreceived++;
    if (mine.length > row.attempts) beyondClaims++;
    const first = mine[0];
    if (first !== undefined && mine.some((copy) => !copy.to.includes(row.to_address) || copy.subject !== first.subject || copy.body !== first.body || copy.to.join() !== first.to.join())) {
      differingCopies++;
    }
  }
  return {
    unreceived,
    sharedIds: rows.filter((row) => rowsById.get(row.message_id)! > 1).length,
    strangers: received.filter((message) => !rowsById.has(message.messageId)).length,
    beyondClaims,
    differingCopies,
    resent: received.length - copies.size,
    distinctReceived: copies.size,
  };
}

/** Whether the delivery is at least once and deduplicable by Message-ID: every count but `resent` is zero. */
export function atLeastOnceByMessageId(delivery: EmailDelivery): boolean {
  return delivery.unreceived === 0 && delivery.sharedIds === 0 && delivery.strangers === 0 && delivery.beyondClaims === 0 && delivery.differingCopies === 0;
}
