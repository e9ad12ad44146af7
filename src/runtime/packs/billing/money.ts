import { MoneyError } from './errors';
import type { CurrencyCode, MinorUnits } from './types';

/** Checks that `value` is a whole number of minor units and brands it. */
export function minorUnits(value: number): MinorUnits {
  if (!Number.isSafeInteger(value)) {
    throw new MoneyError(`Amounts are whole numbers of the currency's minor unit; got ${value}.`);
  }
  return value as MinorUnits;
}

/** A positive amount: what a charge or a price must be. */
export function positiveMinorUnits(value: number, what: string): MinorUnits {
  const amount = minorUnits(value);
  if (amount <= 0) throw new MoneyError(`${what} must be more than zero; got ${value}.`);
  return amount;
}

export function nonNegativeMinorUnits(value: number, what: string): MinorUnits {
  const amount = minorUnits(value);
  if (amount < 0) throw new MoneyError(`${what} cannot be negative; got ${value}.`);
  return amount;
}

export function currencyCode(value: string): CurrencyCode {
  if (!/^[a-z]{3}$/.test(value)) throw new MoneyError(`Currencies are lowercase ISO 4217 codes such as "usd"; got ${JSON.stringify(value)}.`);
  return value;
}

/**
 * "12.34 USD" for an email. The number of minor-unit digits comes from Intl (2 for usd, 0 for
 * jpy, 3 for kwd); the digits are placed by string arithmetic so no float ever holds money.
 */
export function formatMinorUnits(amount: MinorUnits, currency: CurrencyCode): string {
  const upper = currency.toUpperCase();
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency: upper }).resolvedOptions().maximumFractionDigits ?? 2;
  const sign = amount < 0 ? '-' : '';
  const text = String(Math.abs(amount)).padStart(digits + 1, '0');
  const whole = text.slice(0, text.length - digits);
  const fraction = digits === 0 ? '' : `.${text.slice(text.length - digits)}`;
  return `${sign}${whole}${fraction} ${upper}`;
}
