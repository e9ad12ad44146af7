/**
 * The emails the accounts pack queues. They never carry a secret: a new key is shown once in
 * the dashboard, and an email only names keys by their display prefix.
 */

export interface AccountEmail {
  template: string;
  subject: string;
  text: string;
}

export function rotationNotice(input: { name: string | null; oldPrefix: string; newPrefix: string; sunsetAt: number }): AccountEmail {
  return {
    template: 'accounts.api_key_rotation',
    subject: `Your API key ${input.oldPrefix}… is being replaced`,
    text: [
      `${greeting(input.name)}`,
      '',
      `We issued a new API key, ${input.newPrefix}…, to replace ${input.oldPrefix}…. Copy it from the API keys page of your dashboard; it is shown there once.`,
      '',
      `Both keys work until ${utc(input.sunsetAt)}. From then on, requests made with ${input.oldPrefix}… are refused. Until then its responses carry a Sunset header with that time.`,
    ].join('\n'),
  };
}

export function rotationReminder(input: { name: string | null; oldPrefix: string; newPrefix: string; sunsetAt: number; lastUsedAt: number }): AccountEmail {
  return {
    template: 'accounts.api_key_reminder',
    subject: `Reminder: API key ${input.oldPrefix}… stops working on ${utc(input.sunsetAt)}`,
    text: [
      `${greeting(input.name)}`,
      '',
      `A client still called our API with ${input.oldPrefix}… at ${utc(input.lastUsedAt)}. Switch it to ${input.newPrefix}… before ${utc(input.sunsetAt)}: after that, its requests are refused.`,
    ].join('\n'),
  };
}

export function deletionConfirmation(input: { name: string | null; accountId: string; recordsErased: number; deletedAt: number }): AccountEmail {
  return {
    template: 'accounts.deletion_confirmed',
    subject: 'Your account has been deleted',
    text: [
      `${greeting(input.name)}`,
      '',
      `As you asked, we deleted account ${input.accountId} on ${utc(input.deletedAt)}: ${input.recordsErased} stored ${input.recordsErased === 1 ? 'item was' : 'items were'} erased and every API key was revoked.`,
      '',
      'We keep invoices for as long as tax law requires; they no longer name you. This is the last email we send to this address.',
    ].join('\n'),
  };
}

function greeting(name: string | null): string {
  return name === null ? 'Hello,' : `Hello ${name},`;
}

/** "2025-03-04 09:30 UTC": there is no customer time zone to convert to. */
function utc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
