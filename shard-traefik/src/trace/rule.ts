/**
 * Traefik's router rule language, parsed and evaluated the way Traefik v3
 * does it (pkg/rules/parser.go, pkg/muxer/http/matcher.go and matcher_v2.go).
 *
 * Traefik hands the rule to vulcand/predicate, which parses it with Go's own
 * expression parser: a rule is a Go expression of calls with string literal
 * arguments joined by &&, || and !, so `...` is a Go raw string (no escapes)
 * and "..." a Go interpreted string. No JavaScript expression parser reads
 * those literals the same way, hence this small recursive-descent parser of
 * exactly that subset. `&&` binds tighter than `||`, as in Go.
 */
import { BlockList, isIP } from 'node:net';
import { RE2JS } from 're2js';

export type RuleSyntax = 'v2' | 'v3';

export type RuleNode =
  | { kind: 'and' | 'or'; left: RuleNode; right: RuleNode }
  | { kind: 'not'; expr: RuleNode }
  | { kind: 'call'; matcher: string; args: string[]; text: string };

/** The request as the muxer sees it. */
export interface RequestFacts {
  /** Canonical host: lower-cased, without port (requestdecorator). */
  host: string;
  /** Routing path: the escaped path with only unreserved characters decoded (withRoutingPath). */
  path: string;
  method: string;
  /** Header values by canonical (lower-case here) name. */
  headers: Map<string, string[]>;
  query: URLSearchParams;
  /** The TCP peer address; ClientIP never looks at X-Forwarded-For. */
  clientIp?: string;
}

export interface LeafResult {
  /** The matcher call as written, e.g. PathPrefix(`/api`). */
  text: string;
  matcher: string;
  matched: boolean;
  /** Whether the leaf sits under a `!`. */
  negated: boolean;
}

export class RuleError extends Error {
  override name = 'RuleError';
}

const V3: Record<string, number[]> = {
  ClientIP: [1], Method: [1], Host: [1], HostRegexp: [1], Path: [1], PathRegexp: [1], PathPrefix: [1], Header: [2], HeaderRegexp: [2], Query: [1, 2], QueryRegexp: [1, 2],
};
const V2 = ['Host', 'HostHeader', 'HostRegexp', 'ClientIP', 'Path', 'PathPrefix', 'Method', 'Headers', 'HeadersRegexp', 'Query'];

/**
 * rules.NewParser registers each matcher as written, lower-case, upper-case
 * and title-cased lower-case: `PATHPREFIX` and `Pathprefix` work, `pathPrefix` does not.
 */
function matcherNames(syntax: RuleSyntax): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of syntax === 'v2' ? V2 : Object.keys(V3)) {
    const lower = m.toLowerCase();
    for (const alias of [m, lower, m.toUpperCase(), lower[0]!.toUpperCase() + lower.slice(1)]) names.set(alias, m);
  }
  return names;
}

type Token = { t: 'id' | 'str' | 'op'; v: string; at: number };

function unquoteGo(lit: string, at: number): string {
  // Go interpreted string: the escapes strconv.Unquote accepts.
  let out = '';
  for (let i = 1; i < lit.length - 1; i++) {
    const c = lit[i]!;
    if (c !== '\\') { out += c; continue; }
    const e = lit[++i]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (e in simple) out += simple[e];
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = lit.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new RuleError(`invalid escape \\${e} at offset ${at + i}`);
      out += e === 'x' ? String.fromCharCode(parseInt(hex, 16)) : String.fromCodePoint(parseInt(hex, 16));
      i += n;
    } else if (/[0-7]/.test(e)) {
      const oct = lit.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new RuleError(`invalid octal escape at offset ${at + i}`);
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else throw new RuleError(`unknown escape sequence \\${e} at offset ${at + i}`);
  }
  return out;
}

function tokenize(rule: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < rule.length) {
    const c = rule[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '`') {
      const end = rule.indexOf('`', i + 1);
      if (end < 0) throw new RuleError(`raw string literal not terminated at offset ${i}`);
      tokens.push({ t: 'str', v: rule.slice(i + 1, end).replace(/\r/g, ''), at: i });
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < rule.length && rule[j] !== '"') {
        if (rule[j] === '\n') break;
        j += rule[j] === '\\' ? 2 : 1;
      }
      if (rule[j] !== '"') throw new RuleError(`string literal not terminated at offset ${i}`);
      tokens.push({ t: 'str', v: unquoteGo(rule.slice(i, j + 1), i), at: i });
      i = j + 1;
    } else if (rule.startsWith('&&', i) || rule.startsWith('||', i)) {
      tokens.push({ t: 'op', v: rule.slice(i, i + 2), at: i });
      i += 2;
    } else if ('!(),'.includes(c)) {
      tokens.push({ t: 'op', v: c, at: i });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rule.slice(i))!;
      tokens.push({ t: 'id', v: m[0], at: i });
      i += m[0].length;
    } else throw new RuleError(`unexpected ${JSON.stringify(c)} at offset ${i}`);
  }
  return tokens;
}

/** Parses a rule; errors read like Traefik's ("unsupported function", argument counts). */
export function parseRule(rule: string, syntax: RuleSyntax = 'v3'): RuleNode {
  const names = matcherNames(syntax);
  const tokens = tokenize(rule);
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (v: string) => {
    const tok = tokens[pos];
    if (tok?.v !== v || tok.t !== 'op') throw new RuleError(`expected ${v} ${tok ? `at offset ${tok.at}, found ${tok.v}` : 'at the end of the rule'}`);
    pos++;
  };
  const primary = (): RuleNode => {
    const tok = tokens[pos++];
    if (!tok) throw new RuleError('unexpected end of rule');
    if (tok.t === 'op' && tok.v === '!') return { kind: 'not', expr: primary() };
    if (tok.t === 'op' && tok.v === '(') {
      const e = or();
      expect(')');
      return e;
    }
    if (tok.t !== 'id') throw new RuleError(`unexpected ${tok.v} at offset ${tok.at}`);
    const matcher = names.get(tok.v);
    if (!matcher) throw new RuleError(`unsupported function: ${tok.v}`);
    expect('(');
    const args: string[] = [];
    while (peek() && !(peek()!.t === 'op' && peek()!.v === ')')) {
      const a = tokens[pos++]!;
      if (a.t !== 'str') throw new RuleError(`${matcher}: arguments must be string literals, found ${a.v} at offset ${a.at}`);
      args.push(a.v);
      if (peek()?.v === ',' && peek()?.t === 'op') pos++;
      else break;
    }
    const close = peek();
    expect(')');
    const text = rule.slice(tok.at, close!.at + 1);
    // rules.CheckRule, then the matcher's own parameter count.
    if (!args.length) throw new RuleError(`no args for matcher ${matcher}`);
    if (args.some((a) => a === '')) throw new RuleError(`empty args for matcher ${matcher}, [${args.join(' ')}]`);
    if (syntax === 'v3' && !V3[matcher]!.includes(args.length)) throw new RuleError(`unexpected number of parameters; got ${args.length}, expected one of [${V3[matcher]!.join(' ')}]`);
    if (syntax === 'v2' && ['Headers', 'HeadersRegexp'].includes(matcher) && args.length % 2) throw new RuleError(`mux: number of parameters must be multiple of 2, got [${args.join(' ')}]`);
    return { kind: 'call', matcher, args, text };
  };
  const and = (): RuleNode => {
    let left = primary();
    while (peek()?.t === 'op' && peek()!.v === '&&') {
      pos++;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): RuleNode => {
    let left = and();
    while (peek()?.t === 'op' && peek()!.v === '||') {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  if (!tokens.length) throw new RuleError('empty rule');
  const tree = or();
  if (pos < tokens.length) throw new RuleError(`unexpected ${tokens[pos]!.v} at offset ${tokens[pos]!.at}`);
  validate(tree, syntax);
  return tree;
}

const compiled = new Map<string, RE2JS>();
/** Go's regexp is RE2: compile with RE2 semantics, never with JavaScript's backtracking engine. */
function re2(pattern: string, flags = 0): RE2JS {
  const key = `${flags}:${pattern}`;
  let re = compiled.get(key);
  if (!re) {
    re = RE2JS.compile(pattern, flags);
    if (compiled.size > 500) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}

function ipChecker(values: string[], what: string): BlockList {
  const list = new BlockList();
  for (const v of values) {
    const [addr, bits] = v.split('/');
    const family = isIP(addr ?? '');
    if (!family || (bits !== undefined && !/^\d+$/.test(bits))) throw new RuleError(`${what}: parsing CIDR trusted IPs ${v}: invalid CIDR address: ${v}`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

/** gorilla/mux templates ({name} or {name:pattern}) -> RE2, for the v2 Path, PathPrefix and HostRegexp. */
function muxTemplate(tpl: string, defaultPattern: string, anchorEnd: boolean): string {
  let out = '';
  let i = 0;
  while (i < tpl.length) {
    const open = tpl.indexOf('{', i);
    if (open < 0) { out += quoteMeta(tpl.slice(i)); break; }
    out += quoteMeta(tpl.slice(i, open));
    let depth = 0;
    let j = open;
    for (; j < tpl.length; j++) {
      if (tpl[j] === '{') depth++;
      else if (tpl[j] === '}' && --depth === 0) break;
    }
    if (j >= tpl.length) throw new RuleError(`mux: unbalanced braces in "${tpl}"`);
    const inner = tpl.slice(open + 1, j);
    const colon = inner.indexOf(':');
    out += `(${colon < 0 ? defaultPattern : inner.slice(colon + 1)})`;
    i = j + 1;
  }
  return `^${out}${anchorEnd ? '$' : ''}`;
}

function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function validate(node: RuleNode, syntax: RuleSyntax): void {
  if (node.kind === 'not') return validate(node.expr, syntax);
  if (node.kind !== 'call') {
    validate(node.left, syntax);
    validate(node.right, syntax);
    return;
  }
  const [a = '', b = ''] = node.args;
  try {
    if (syntax === 'v3') {
      switch (node.matcher) {
        case 'Host':
        case 'HostRegexp':
          // eslint-disable-next-line no-control-regex
          if (/[^\x00-\x7f]/.test(a)) throw new RuleError(`invalid value "${a}" for ${node.matcher} matcher, non-ASCII characters are not allowed`);
          if (node.matcher === 'HostRegexp') re2(a);
          break;
        case 'Path':
        case 'PathPrefix':
          if (!a.startsWith('/')) throw new RuleError(`path "${a}" does not start with a '/'`);
          break;
        case 'PathRegexp': re2(a); break;
        case 'HeaderRegexp': re2(b); break;
        case 'QueryRegexp': if (node.args.length === 2) re2(b); break;
        case 'ClientIP': ipChecker([a], 'initializing IP checker for ClientIP matcher'); break;
      }
    } else {
      switch (node.matcher) {
        case 'Path': for (const p of node.args) re2(muxTemplate(p, '[^/]+', true)); break;
        case 'PathPrefix': for (const p of node.args) re2(muxTemplate(p, '[^/]+', false)); break;
        case 'HostRegexp': for (const h of node.args) re2(muxTemplate(h.toLowerCase(), '[^.]+', true)); break;
        case 'HeadersRegexp': for (let i = 1; i < node.args.length; i += 2) re2(node.args[i]!); break;
        case 'ClientIP': ipChecker(node.args, 'could not initialize IP Checker for "ClientIP" matcher'); break;
      }
    }
  } catch (err) {
    if (err instanceof RuleError) throw err;
    throw new RuleError(`compiling ${node.matcher} matcher: ${(err as Error).message}`);
  }
}

/** muxer.DomainMatchHostExpression: `*.example.com` stands for exactly one first label. */
function domainMatch(domain: string, expr: string): boolean {
  if (expr.startsWith('*')) {
    const labels = domain.split('.');
    labels[0] = '*';
    return labels.join('.').toLowerCase() === expr.toLowerCase();
  }
  return domain.toLowerCase() === expr.toLowerCase();
}

function hostV3(host: string, expr: string): boolean {
  if (expr === '*') return true;
  const e = expr.toLowerCase();
  if (!host) return false;
  if (domainMatch(host, e)) return true;
  if (e.endsWith('.') && domainMatch(host, e.slice(0, -1))) return true;
  return host.endsWith('.') && domainMatch(host.slice(0, -1), e);
}

function hostV2(host: string, expr: string): boolean {
  const e = expr.toLowerCase();
  return Boolean(host) && (host === e || (e.endsWith('.') && host === e.slice(0, -1)) || (host.endsWith('.') && host.slice(0, -1) === e));
}

function inList(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

function matchCall(node: Extract<RuleNode, { kind: 'call' }>, req: RequestFacts, syntax: RuleSyntax): boolean {
  const [a = '', b = ''] = node.args;
  const header = (k: string) => req.headers.get(k.toLowerCase()) ?? [];
  if (syntax === 'v3') {
    switch (node.matcher) {
      case 'Host': return hostV3(req.host, a);
      case 'HostRegexp': return re2(a).test(req.host);
      case 'Path': return req.path === a;
      case 'PathPrefix': return req.path.startsWith(a);
      // Unanchored, like Go's MatchString: PathRegexp(`/api`) also matches /v1/api/x.
      case 'PathRegexp': return re2(a).test(req.path);
      case 'Method': return req.method === a.toUpperCase();
      case 'Header': return header(a).includes(b);
      case 'HeaderRegexp': return header(a).some((v) => re2(b).test(v));
      // Query(`k`) alone wants the key present with an empty value (`?k` or `?k=`), not just present.
      case 'Query': return req.query.has(a) && req.query.getAll(a).includes(node.args.length === 2 ? b : '');
      case 'QueryRegexp': return node.args.length === 1 ? req.query.has(a) && req.query.getAll(a).includes('') : req.query.getAll(a).some((v) => re2(b).test(v));
      case 'ClientIP': return inList(ipChecker([a], 'ClientIP'), req.clientIp);
    }
  } else {
    switch (node.matcher) {
      case 'Host':
      case 'HostHeader': return node.args.some((h) => hostV2(req.host, h));
      case 'HostRegexp': return node.args.some((h) => re2(muxTemplate(h.toLowerCase(), '[^.]+', true)).test(req.host));
      case 'Path': return node.args.some((p) => re2(muxTemplate(p, '[^/]+', true)).test(req.path));
      case 'PathPrefix': return node.args.some((p) => re2(muxTemplate(p, '[^/]+', false)).test(req.path));
      case 'Method': return node.args.some((m) => m.toUpperCase() === req.method);
      case 'Headers': return pairs(node.args).every(([k, v]) => header(k).includes(v));
      case 'HeadersRegexp': return pairs(node.args).every(([k, v]) => header(k).some((x) => re2(v).test(x)));
      case 'Query': return node.args.every((q) => {
        const [k = '', v] = q.split(/=(.*)/s);
        return req.query.has(k) && (v === undefined || req.query.getAll(k).includes(v));
      });
      case 'ClientIP': return inList(ipChecker(node.args, 'ClientIP'), req.clientIp);
    }
  }
  return false;
}

function pairs(args: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < args.length; i += 2) out.push([args[i]!, args[i + 1]!]);
  return out;
}

/** Evaluates every leaf (for the explanation) and combines them like the matchers tree. */
export function evaluateRule(tree: RuleNode, req: RequestFacts, syntax: RuleSyntax = 'v3'): { matched: boolean; leaves: LeafResult[] } {
  const leaves: LeafResult[] = [];
  const walk = (n: RuleNode, negated: boolean): boolean => {
    switch (n.kind) {
      case 'and': { const l = walk(n.left, negated); const r = walk(n.right, negated); return l && r; }
      case 'or': { const l = walk(n.left, negated); const r = walk(n.right, negated); return l || r; }
      case 'not': return !walk(n.expr, !negated);
      case 'call': {
        const matched = matchCall(n, req, syntax);
        leaves.push({ text: n.text, matcher: n.matcher, matched, negated });
        return matched;
      }
    }
  };
  return { matched: walk(tree, false), leaves };
}

/** Host names a rule names literally (Host/HostHeader), lower-cased. */
export function ruleHosts(tree: RuleNode): string[] {
  switch (tree.kind) {
    case 'and':
    case 'or': return [...ruleHosts(tree.left), ...ruleHosts(tree.right)];
    case 'not': return [];
    case 'call': return tree.matcher === 'Host' || tree.matcher === 'HostHeader' ? tree.args.map((h) => h.toLowerCase()) : [];
  }
}

// Characters withRoutingPath keeps percent-encoded: decoding them would change the path's meaning.
const RESERVED = new Set(['%3A', '%2F', '%3F', '%23', '%5B', '%5D', '%40', '%21', '%24', '%26', '%27', '%28', '%29', '%2A', '%2B', '%2C', '%3B', '%3D', '%25']);

/** The routing path of an escaped URL path: unreserved %XX decoded, reserved ones kept (PathPrefix(`/foo bar`) matches /foo%20bar). */
export function routingPath(escaped: string): string {
  return escaped.replace(/%[0-9A-Fa-f]{2}/g, (m) => (RESERVED.has(m.toUpperCase()) ? m : decodeURIComponent(m)));
}
