/**
 * The filter's syntax tree as @bufbuild/cel parses it, and the one walker over it: the type
 * checker, the body-reading analysis and the node count (cost.ts) visit expressions through
 * `walk`; the cost estimate and the SQL pushdown read them with these types.
 */
import type { parse } from '@bufbuild/cel';

export type ParsedFilter = ReturnType<typeof parse>;
export type CelExpr = ParsedFilter['expr'];
type ExprKind = CelExpr['exprKind'];
export type KindValue<C extends string> = Extract<ExprKind, { case: C }>['value'];
export type CelCall = KindValue<'callExpr'>;
export type CelConstant = KindValue<'constExpr'>;

/** Deeper nesting than this is refused: it keeps every recursive walk far from the stack limit. */
export const MAX_FILTER_DEPTH = 100;

/**
 * Visits an expression and every sub-expression, iteratively (no recursion limit to hit);
 * `visit` returning false ends the walk there.
 */
export function walk(root: CelExpr, visit: (e: CelExpr) => boolean | void): void {
  const stack: CelExpr[] = [root];
  while (stack.length > 0) {
    const e = stack.pop() as CelExpr;
    if (visit(e) === false) return;
    const kind = e.exprKind;
    switch (kind.case) {
      case 'selectExpr':
        if (kind.value.operand !== undefined) stack.push(kind.value.operand);
        break;
      case 'callExpr':
        if (kind.value.target !== undefined) stack.push(kind.value.target);
        stack.push(...kind.value.args);
        break;
      case 'listExpr':
        stack.push(...kind.value.elements);
        break;
      case 'structExpr':
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') stack.push(entry.keyKind.value);
          if (entry.value !== undefined) stack.push(entry.value);
        }
        break;
      case 'comprehensionExpr':
        for (const part of [kind.value.iterRange, kind.value.accuInit, kind.value.loopCondition, kind.value.loopStep, kind.value.result]) {
          if (part !== undefined) stack.push(part);
        }
        break;
      default:
        break;
    }
  }
}

/** The chain of field names selected above an identifier, e.g. `request.body` → ['body']. */
function selectChain(e: CelExpr): { root: CelExpr; fields: string[] } {
  const fields: string[] = [];
  let current = e;
  while (current.exprKind.case === 'selectExpr' && current.exprKind.value.operand !== undefined) {
    fields.unshift(current.exprKind.value.field);
    current = current.exprKind.value.operand;
  }
  return { root: current, fields };
}

function pathReadsBody(name: string, fields: string[]): boolean {
  if (name === 'request' || name === 'response') return fields.length === 0 || fields[0] === 'body';
  if (name === 'call') {
    if (fields.length === 0) return true;
    if (fields[0] === 'request' || fields[0] === 'response') return fields.length === 1 || fields[1] === 'body';
  }
  return false;
}

/**
 * Whether evaluating the expression may observe a body. Conservative: any use of
 * `request`/`response`/`call` other than selecting a field that is not `body` counts.
 */
export function readsBodies(root: CelExpr): boolean {
  const selectsSeen = new Set<CelExpr>();
  let reads = false;
  walk(root, (e) => {
    if (reads || selectsSeen.has(e)) return;
    if (e.exprKind.case === 'selectExpr') {
      const { root: base, fields } = selectChain(e);
      // Mark the inner selects so they are not judged again as shorter chains.
      let inner = e;
      while (inner.exprKind.case === 'selectExpr' && inner.exprKind.value.operand !== undefined) {
        inner = inner.exprKind.value.operand;
        selectsSeen.add(inner);
      }
      if (base.exprKind.case === 'identExpr' && pathReadsBody(base.exprKind.value.name, fields)) reads = true;
    } else if (e.exprKind.case === 'identExpr' && pathReadsBody(e.exprKind.value.name, [])) {
      reads = true;
    }
  });
  return reads;
}

/** The field path of `ident`, `a.b` or `a.b.c` selections (not presence tests): `['a', 'b', 'c']`. */
export function fieldPath(e: CelExpr): string[] | undefined {
  const path: string[] = [];
  let current = e;
  while (current.exprKind.case === 'selectExpr') {
    if (current.exprKind.value.testOnly || current.exprKind.value.operand === undefined) return undefined;
    path.unshift(current.exprKind.value.field);
    current = current.exprKind.value.operand;
  }
  if (current.exprKind.case !== 'identExpr') return undefined;
  path.unshift(current.exprKind.value.name);
  return path;
}
