/**
 * The alert-rule condition language, parsed once and evaluated per record:
 *
 *   condition  := or
 *   or         := and ( OR and )*
 *   and        := primary ( AND primary )*
 *   primary    := '(' condition ')' | comparison
 *   comparison := path op value
 *   path       := name ( '.' name )*        name: letters, digits, _ and - ; or "quoted"
 *   op         := > | >= | < | <= | == | != | contains
 *   value      := number | "string" | 'string' | true | false | null | bare-word
 *
 * `AND` binds tighter than `OR`; keywords are case-insensitive. Semantics follow the reference
 * server's rules: a field that is absent never matches (not even `!=`); when both sides are
 * numbers they compare as numbers, exactly (integers of any size, beyond 2^53 included, by their
 * decimal digits — never through a double); otherwise both sides compare as text (`true`,
 * `false`, numbers by their JSON text); `contains` is substring containment of the texts. Objects
 * and arrays match only `contains` (on their JSON text) and `!=`.
 *
 * Parse errors are a `ConditionError` with the 1-based column of the problem.
 */
import { compareDecimalText } from './aggregate/numbers.js';
import { parseJsonExact } from './json/index.js';

export type ConditionOperator = '>' | '>=' | '<' | '<=' | '==' | '!=' | 'contains';

/** A literal: numbers keep their text (exact comparison); strings, booleans and null as given. */
export type ConditionValue =
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'null' };

export type ConditionNode =
  | { readonly type: 'compare'; readonly path: readonly string[]; readonly op: ConditionOperator; readonly value: ConditionValue }
  | { readonly type: 'and' | 'or'; readonly terms: readonly ConditionNode[] };

export class ConditionError extends Error {
  /** 1-based column in the condition text. */
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'ConditionError';
    this.position = position;
  }
}

/** Most comparisons and nesting in one condition (bounded parse and evaluation). */
export const MAX_CONDITION_TERMS = 256;
export const MAX_CONDITION_DEPTH = 32;
const MAX_CONDITION_LENGTH = 16 * 1024;

interface Token {
  readonly kind: 'lparen' | 'rparen' | 'op' | 'word' | 'string' | 'end';
  readonly text: string;
  readonly at: number;
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const NAME = /^[A-Za-z0-9_-]+$/;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const at = i + 1;
    if (c === '(' || c === ')') {
      out.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, at });
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '>=' || two === '<=' || two === '==' || two === '!=') {
      out.push({ kind: 'op', text: two, at });
      i += 2;
      continue;
    }
    if (c === '>' || c === '<') {
      out.push({ kind: 'op', text: c, at });
      i++;
      continue;
    }
    if (c === '=' || c === '!') throw new ConditionError(`unknown operator "${c}" (use ==, !=, >, >=, <, <= or contains)`, at);
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= src.length) throw new ConditionError('unterminated string', at);
        const d = src[j];
        if (d === '\\' && j + 1 < src.length) {
          text += src[j + 1];
          j += 2;
          continue;
        }
        if (d === c) break;
        text += d;
        j++;
      }
      out.push({ kind: 'string', text, at });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < src.length && !/[\s()<>=!"']/.test(src[j])) j++;
    out.push({ kind: 'word', text: src.slice(i, j), at });
    i = j;
  }
  out.push({ kind: 'end', text: '', at: src.length + 1 });
  return out;
}

class Parser {
  private i = 0;
  private terms = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private keyword(t: Token, k: string): boolean {
    return t.kind === 'word' && t.text.toUpperCase() === k;
  }

  parse(): ConditionNode {
    const node = this.or(0);
    const t = this.peek();
    if (t.kind !== 'end') throw new ConditionError(t.kind === 'rparen' ? 'unmatched ")"' : `expected AND, OR or the end, found "${t.text}"`, t.at);
    return node;
  }

  private or(depth: number): ConditionNode {
    const terms = [this.and(depth)];
    while (this.keyword(this.peek(), 'OR')) {
      this.next();
      terms.push(this.and(depth));
    }
    return terms.length === 1 ? terms[0] : { type: 'or', terms };
  }

  private and(depth: number): ConditionNode {
    const terms = [this.primary(depth)];
    while (this.keyword(this.peek(), 'AND')) {
      this.next();
      terms.push(this.primary(depth));
    }
    return terms.length === 1 ? terms[0] : { type: 'and', terms };
  }

  private primary(depth: number): ConditionNode {
    const t = this.peek();
    if (t.kind === 'lparen') {
      if (depth >= MAX_CONDITION_DEPTH) throw new ConditionError(`parentheses nested deeper than ${MAX_CONDITION_DEPTH}`, t.at);
      this.next();
      const inner = this.or(depth + 1);
      const close = this.next();
      if (close.kind !== 'rparen')
        throw new ConditionError(`expected ")" to close the "(" at position ${t.at}, found ${close.kind === 'end' ? 'the end' : `"${close.text}"`}`, close.at);
      return inner;
    }
    return this.comparison();
  }

  private comparison(): ConditionNode {
    const f = this.next();
    if (f.kind === 'end') throw new ConditionError('expected a field name, found the end', f.at);
    if (f.kind !== 'word' && f.kind !== 'string') throw new ConditionError(`expected a field name, found "${f.text}"`, f.at);
    if (f.kind === 'word' && (this.keyword(f, 'AND') || this.keyword(f, 'OR'))) throw new ConditionError(`expected a field name, found "${f.text}"`, f.at);
    const path = f.kind === 'string' ? [f.text] : f.text.split('.');
    if (f.kind === 'word') {
      let col = f.at;
      for (const part of path) {
        if (!NAME.test(part))
          throw new ConditionError(`invalid field name "${f.text}" (letters, digits, _ and -, dotted for nested fields; quote other names)`, col);
        col += part.length + 1;
      }
    }
    const o = this.next();
    let op: ConditionOperator;
    if (o.kind === 'op') op = o.text as ConditionOperator;
    else if (o.kind === 'word' && o.text.toLowerCase() === 'contains') op = 'contains';
    else
      throw new ConditionError(
        `expected an operator (> >= < <= == != contains) after "${f.text}", found ${o.kind === 'end' ? 'the end' : `"${o.text}"`}`,
        o.at,
      );
    const v = this.next();
    let value: ConditionValue;
    if (v.kind === 'string') value = { kind: 'string', text: v.text };
    else if (v.kind === 'word' && !this.keyword(v, 'AND') && !this.keyword(v, 'OR')) {
      const lower = v.text.toLowerCase();
      if (NUMBER.test(v.text)) value = { kind: 'number', text: v.text };
      else if (lower === 'true' || lower === 'false') value = { kind: 'bool', value: lower === 'true' };
      else if (lower === 'null') value = { kind: 'null' };
      else value = { kind: 'string', text: v.text };
    } else throw new ConditionError(`expected a value after "${o.text}", found ${v.kind === 'end' ? 'the end' : `"${v.text}"`}`, v.at);
    if (++this.terms > MAX_CONDITION_TERMS) throw new ConditionError(`more than ${MAX_CONDITION_TERMS} comparisons`, f.at);
    return { type: 'compare', path, op, value };
  }
}

/** The JSON-ish text of a field value, for text comparisons and `contains`. */
function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

function literalText(v: ConditionValue): string {
  switch (v.kind) {
    case 'number':
    case 'string':
      return v.text;
    case 'bool':
      return String(v.value);
    case 'null':
      return 'null';
  }
}

/** A number's exact decimal text (doubles by their shortest round-trip text), or undefined. */
function numberText(v: unknown): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  return undefined;
}

function order(op: ConditionOperator, c: number): boolean {
  switch (op) {
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    default:
      return false;
  }
}

function lookup(data: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let cur = data;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) return { found: false };
    cur = (cur as Record<string, unknown>)[key];
  }
  return { found: true, value: cur };
}

function evaluate(node: ConditionNode, data: unknown): boolean {
  if (node.type !== 'compare') return node.type === 'and' ? node.terms.every((t) => evaluate(t, data)) : node.terms.some((t) => evaluate(t, data));
  const { found, value } = lookup(data, node.path);
  if (!found) return false;
  const lit = node.value;
  if (node.op === 'contains') return textOf(value).includes(literalText(lit));
  if (value !== null && typeof value === 'object') return node.op === '!=';
  const n = numberText(value);
  if (n !== undefined && lit.kind === 'number') return order(node.op, compareDecimalText(n, lit.text));
  if (node.op === '==' || node.op === '!=') {
    const same = lit.kind === 'null' ? value === null : lit.kind === 'bool' ? value === lit.value : textOf(value) === literalText(lit);
    return node.op === '==' ? same : !same;
  }
  const a = textOf(value),
    b = literalText(lit);
  return order(node.op, a === b ? 0 : a > b ? 1 : -1);
}

/** A parsed condition: evaluate it against a record's data as often as needed. */
export class Condition {
  private constructor(
    readonly source: string,
    readonly root: ConditionNode,
  ) {}

  /** Parses `text`; throws ConditionError (with the position) for anything malformed. */
  static parse(text: string): Condition {
    if (typeof text !== 'string') throw new ConditionError('the condition must be a string', 1);
    if (text.length > MAX_CONDITION_LENGTH)
      throw new ConditionError(`the condition is longer than ${MAX_CONDITION_LENGTH} characters`, MAX_CONDITION_LENGTH + 1);
    if (text.trim() === '') throw new ConditionError('the condition is empty', 1);
    return new Condition(text, new Parser(tokenize(text)).parse());
  }

  /** Does a record's data (already parsed, integers beyond 2^53 as bigint) match? */
  matches(data: unknown): boolean {
    return evaluate(this.root, data);
  }

  /** Does a JSON record (the stored bytes or text) match? Invalid JSON never matches. */
  matchesJson(json: string | Uint8Array): boolean {
    let data: unknown;
    try {
      data = parseJsonExact(json);
    } catch {
      return false;
    }
    return evaluate(this.root, data);
  }
}
