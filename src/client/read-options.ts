import { ValidationError } from '../core/errors.ts';
import { describeArgument } from './argument-checks.ts';
import type { LogFilter, ReadStreamOptions } from './types.ts';

/**
 * The rules for what a read is asked with (readStream, readLog, scan,
 * replay's filter). Their types say numbers, but a NaN or a string from a form
 * compiles or arrives from plain JavaScript: each is refused with a
 * ValidationError naming the option, before anything is read, instead of a
 * read that quietly returns nothing or everything. Pure: no I/O.
 */

function refuse(path: string, reason: string, value: unknown): never {
  throw new ValidationError('?', path, `${reason} (got ${describeArgument(value)})`);
}

function checkCount(path: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) refuse(path, 'must be a non-negative integer', value);
}

function checkTime(path: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) refuse(path, 'must be epoch milliseconds (a finite number)', value);
}

function checkStrings(path: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) refuse(path, 'must be an array of strings', value);
  const index = value.findIndex((entry) => typeof entry !== 'string');
  if (index >= 0) refuse(`${path}[${index}]`, 'must be a string', value[index]);
}

function checkObject(path: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) refuse(path, 'must be an object', value);
  return value as Record<string, unknown>;
}

/** readStream's options: seqs are non-negative integers, `backwards` a boolean. */
export function checkStreamOptions(options: ReadStreamOptions | undefined): void {
  const given = checkObject('options', options);
  if (!given) return;
  checkCount('fromSeq', given.fromSeq);
  checkCount('toSeq', given.toSeq);
  if (given.backwards !== undefined && typeof given.backwards !== 'boolean') refuse('backwards', 'must be a boolean', given.backwards);
}

const LOG_FILTER_KEYS = ['aggregateIds', 'types', 'fromTime', 'toTime', 'fromPosition', 'toPosition', 'after', 'status'];

/**
 * A log filter (readLog, scan): only its own keys (a misspelt `aggregateId`
 * would otherwise read the whole log), times finite, positions non-negative
 * integers, lists of strings, a known status, a cursor.
 */
export function checkLogFilter(filter: LogFilter | undefined): void {
  const given = checkObject('filter', filter);
  if (!given) return;
  const unknown = Object.keys(given).find((key) => !LOG_FILTER_KEYS.includes(key));
  if (unknown !== undefined) refuse(unknown, `is not a log filter option (${LOG_FILTER_KEYS.join(', ')})`, given[unknown]);
  checkStrings('aggregateIds', given.aggregateIds);
  checkStrings('types', given.types);
  checkTime('fromTime', given.fromTime);
  checkTime('toTime', given.toTime);
  checkCount('fromPosition', given.fromPosition);
  checkCount('toPosition', given.toPosition);
  if (given.status !== undefined && given.status !== 'confirmed' && given.status !== 'pending') {
    refuse('status', "must be 'confirmed' or 'pending'", given.status);
  }
  const after = checkObject('after', given.after);
  if (after) for (const key of ['area', 'page', 'index'] as const) checkCount(`after.${key}`, after[key]);
}

const SCAN_OPTION_KEYS = ['batchEvents', 'upcastFailures'];

/** scan's options: its own keys only, a count of events per batch, and what an event whose upcast fails does. */
export function checkScanOptions(options: { batchEvents?: number; upcastFailures?: string } | undefined): void {
  const given = checkObject('options', options);
  if (!given) return;
  const unknown = Object.keys(given).find((key) => !SCAN_OPTION_KEYS.includes(key));
  if (unknown !== undefined) refuse(unknown, `is not a scan option (${SCAN_OPTION_KEYS.join(', ')})`, given[unknown]);
  checkCount('batchEvents', given.batchEvents);
  if (given.upcastFailures !== undefined && given.upcastFailures !== 'throw' && given.upcastFailures !== 'unreadable') {
    refuse('upcastFailures', "must be 'throw' or 'unreadable'", given.upcastFailures);
  }
}

/** A replay's filter: one aggregate id, types and a time range. */
export function checkReplayFilter(filter: unknown): void {
  const given = checkObject('filter', filter);
  if (!given) return;
  if (given.aggregateId !== undefined && typeof given.aggregateId !== 'string')
    refuse('aggregateId', 'must be a string', given.aggregateId);
  checkStrings('types', given.types);
  checkTime('fromTime', given.fromTime);
  checkTime('toTime', given.toTime);
}
