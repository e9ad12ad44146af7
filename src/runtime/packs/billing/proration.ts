import { BillingError } from './errors';
import { minorUnits, nonNegativeMinorUnits } from './money';
import type { MinorUnits, Proration } from './types';

export interface ProrationInput {
  periodStart: number;
  periodEnd: number;
  changeAt: number;
  currentPrice: MinorUnits;
  newPrice: MinorUnits;
}

/**
 * Prices a mid-period plan change.
 *
 * Rounding rule: the period and the time left are counted in whole seconds (milliseconds
 * truncated, so both sides of the fraction use the same clock grain); the credit for the unused
 * current plan and the charge for the rest of the period on the new plan are each
 * `price × remaining ÷ period` rounded half-to-even to the minor unit, computed exactly with
 * BigInt. Rounding each amount on its own (not the net) makes a change and its reverse at the
 * same instant cancel to exactly zero, and keeps each amount within [0, price].
 */
export function prorate(input: ProrationInput): Proration {
  const periodSeconds = Math.trunc(input.periodEnd / 1000) - Math.trunc(input.periodStart / 1000);
  const remainingSeconds = Math.trunc(input.periodEnd / 1000) - Math.trunc(input.changeAt / 1000);
  if (periodSeconds <= 0) throw new BillingError('A billing period must last at least one second.');
  if (input.changeAt < input.periodStart || remainingSeconds < 0 || remainingSeconds > periodSeconds) {
    throw new BillingError('A plan change is prorated only within the current period.');
  }
  const unusedCredit = shareOf(nonNegativeMinorUnits(input.currentPrice, 'current price'), remainingSeconds, periodSeconds);
  const remainingCharge = shareOf(nonNegativeMinorUnits(input.newPrice, 'new price'), remainingSeconds, periodSeconds);
  return { periodSeconds, remainingSeconds, unusedCredit, remainingCharge, net: remainingCharge - unusedCredit };
}

/** round_half_even(amount × part ÷ whole), exactly. */
export function shareOf(amount: MinorUnits, part: number, whole: number): MinorUnits {
  const numerator = BigInt(amount) * BigInt(part);
  const denominator = BigInt(whole);
  const quotient = numerator / denominator;
  const twiceRemainder = (numerator - quotient * denominator) * 2n;
  const roundUp = twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n);
  return minorUnits(Number(roundUp ? quotient + 1n : quotient));
}

/** How a prorated net amount is settled against a credit balance: credit first, then a charge. */
export interface Settlement {
  creditApplied: MinorUnits;
  creditAdded: MinorUnits;
  amountToCharge: MinorUnits;
}

/**
 * An upgrade spends the credit balance before charging the rest; a downgrade adds its net to
 * the balance (no refund to the card, as a customer balance works at payment gateways).
 * Always: amountToCharge + creditApplied − creditAdded = net.
 */
export function settle(net: number, creditBalance: MinorUnits): Settlement {
  const amount = minorUnits(net);
  if (creditBalance < 0) throw new BillingError('A credit balance cannot be negative.');
  if (amount <= 0) return { creditApplied: minorUnits(0), creditAdded: minorUnits(-amount), amountToCharge: minorUnits(0) };
  const creditApplied = minorUnits(Math.min(creditBalance, amount));
  return { creditApplied, creditAdded: minorUnits(0), amountToCharge: minorUnits(amount - creditApplied) };
}
