'use strict';
// Kaitai `valid:` rules as C, so that the C reader checks the very rules the Kaitai parser of the
// TypeScript decoder checks. It covers the part of the expression language that field rules use:
// `_` (the value), the type's other fields, integer literals, `enum::label`, comparisons,
// arithmetic, bit operations, `and`/`or`/`not` and parentheses. A conjunct that is about the
// stream (`_io.size`, `_io.pos`: a count that must fit in the bytes left) is left to the C
// cursor, which bounds every read already. Arithmetic is done in __int128, which holds every
// u8 and s8 without the sign traps of mixing C's unsigned and signed types.

const TOKEN = /\s*(0x[0-9a-fA-F_]+|\d[\d_]*|[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)*|==|!=|<=|>=|<<|>>|[-+*/%&|^<>()~])/y;

function tokenize(expr) {
  const out = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(expr);
    if (!m) throw new Error(`cannot read the expression '${expr}' at '${expr.slice(pos)}'`);
    out.push(m[1]);
    pos = TOKEN.lastIndex;
  }
  return out;
}

/** The top-level conjuncts of an expression (split at `and` outside parentheses). */
function conjuncts(tokens) {
  const parts = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t === '(') depth++;
    if (t === ')') depth--;
    if (t === 'and' && depth === 0) parts.push([]);
    else parts[parts.length - 1].push(t);
  }
  return parts;
}

/**
 * C for a `valid` expression of field `self`, or null when nothing of it applies to C.
 * `fields` names the type's fields that C may reach as `s->name`.
 */
function validExprToC(expr, fields) {
  const kept = conjuncts(tokenize(String(expr))).filter((ts) => !ts.some((t) => t.startsWith('_io')));
  if (kept.length === 0) return null;
  const term = (t) => {
    if (t === '_') return '((__int128)(v))';
    if (t === 'and') return '&&';
    if (t === 'or') return '||';
    if (t === 'not') return '!';
    if (/^(0x[0-9a-fA-F_]+|\d[\d_]*)$/.test(t)) return `((__int128)${t.replace(/_/g, '')}ULL)`;
    if (t.includes('::')) {
      const [e, label] = t.split('::');
      return `((__int128)CKPT_${e.toUpperCase()}_${label.toUpperCase()})`;
    }
    if (/^[A-Za-z_]/.test(t)) {
      if (!fields.has(t)) throw new Error(`the rule '${expr}' names '${t}', which C cannot reach (not an earlier fixed field of the type)`);
      return `((__int128)s->${t})`;
    }
    return t;
  };
  return kept.map((ts) => `(${ts.map(term).join(' ')})`).join(' && ');
}

/** C for any `valid:` form (eq, min, max, any-of, expr), or null when nothing applies to C. */
function validToC(valid, fields) {
  if (valid === undefined) return null;
  if (typeof valid !== 'object') return validExprToC(`_ == ${valid}`, fields);
  const parts = [];
  if (valid.eq !== undefined) parts.push(validExprToC(`_ == ${valid.eq}`, fields));
  if (valid.min !== undefined) parts.push(validExprToC(`_ >= ${valid.min}`, fields));
  if (valid.max !== undefined) parts.push(validExprToC(`_ <= ${valid.max}`, fields));
  if (valid['any-of'] !== undefined) parts.push(`(${valid['any-of'].map((x) => validExprToC(`_ == ${x}`, fields)).join(' || ')})`);
  if (valid.expr !== undefined) parts.push(validExprToC(valid.expr, fields));
  const kept = parts.filter(Boolean);
  return kept.length ? kept.join(' && ') : null;
}

module.exports = { validToC };
