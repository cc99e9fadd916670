import { describe, expect, it } from '@jest/globals';
import { evaluateRule, parseRule, routingPath, RuleError, type RequestFacts, type RuleSyntax } from '../src/trace/rule.js';

function req(url: string, opts: { method?: string; headers?: Record<string, string>; clientIp?: string } = {}): RequestFacts {
  const u = new URL(url);
  return {
    host: u.hostname.toLowerCase(),
    path: routingPath(u.pathname),
    method: opts.method ?? 'GET',
    headers: new Map(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), [v]])),
    query: u.searchParams,
    ...(opts.clientIp ? { clientIp: opts.clientIp } : {}),
  };
}

const matches = (rule: string, url: string, opts: Parameters<typeof req>[1] = {}, syntax: RuleSyntax = 'v3') => evaluateRule(parseRule(rule, syntax), req(url, opts), syntax).matched;

// Each table follows a case of pkg/muxer/http/matcher_test.go or matcher_v2_test.go:
// the rule, then URLs Traefik answers 200 (matched) or 404 (not matched) for.
describe('rule evaluator: the cases of Traefik\'s matcher tests', () => {
  it.each([
    ['wildcard matcher', 'Host(`*.example.com`)', { 'https://test.example.com': true, 'https://other.example.com': true, 'https://example.com': false, 'https://test.otherexample.com': false }],
    ['* match everything', 'Host(`*`)', { 'https://localhost': true, 'https://example.com': true }],
    ['Host is case-insensitive and ignores a trailing dot', 'Host(`Example.COM`)', { 'https://example.com': true, 'https://example.com.': true, 'https://example.org': false }],
    ['valid PathRegexp matcher (unanchored at the end)', 'PathRegexp(`^/(css|js)`)', { 'https://example.com': false, 'https://example.com/html': false, 'https://example.com/CSS': false, 'https://example.com/css/main.css': true, 'https://example.com/js/': true }],
    ['PathRegexp with v2-looking braces is a plain regexp in v3', 'PathRegexp("/{path:(css|js)}")', { 'https://example.org/css': false, 'https://example.com/{path:css}': true, 'https://example.com/%7Bpath:js%7D/': true }],
    ['valid Query matcher', 'Query(`q`, `traefik`)', { 'https://example.com': false, 'https://example.com?q=traefik': true, 'https://example.com?q=awesome&q=traefik': true, 'https://example.com?q=TRAEFIK': false, 'https://example.com?Q=traefik': false }],
    ['valid Query matcher with empty value', 'Query(`mobile`)', { 'https://example.com': false, 'https://example.com?mobile': true, 'https://example.com?mobile=true': false }],
    ['PathPrefix is a plain string prefix', 'PathPrefix(`/foo`)', { 'https://a/foo': true, 'https://a/foobar': true, 'https://a/fo': false }],
    ['Path is exact on the routing path', 'Path(`/foo bar`)', { 'https://a/foo%20bar': true, 'https://a/foo%20bar/': false }],
    ['reserved characters stay encoded in the routing path', 'Path(`/a/b`)', { 'https://a/a%2Fb': false, 'https://a/a/b': true }],
    ['&& binds tighter than ||', 'Host(`a.lan`) || Host(`b.lan`) && Path(`/x`)', { 'https://a.lan/y': true, 'https://b.lan/y': false, 'https://b.lan/x': true }],
    ['! negates a group', 'Host(`a.lan`) && !(PathPrefix(`/admin`) || PathPrefix(`/api`))', { 'https://a.lan/': true, 'https://a.lan/admin': false, 'https://a.lan/api/x': false }],
    ['matcher names in lower, upper and title case', 'host(`a.lan`) && PATHPREFIX(`/x`) && Pathprefix(`/x`)', { 'https://a.lan/x': true }],
  ] as [string, string, Record<string, boolean>][])('%s: %s', (_desc, rule, expected) => {
    for (const [url, want] of Object.entries(expected)) expect([url, matches(rule, url)]).toEqual([url, want]);
  });

  it('matches headers by canonical name and exact value, methods upper-cased, ClientIP against ranges', () => {
    expect(matches('Header(`x-forwarded-proto`, `https`)', 'https://a/', { headers: { 'X-Forwarded-Proto': 'https' } })).toBe(true);
    expect(matches('Header(`X-Forwarded-Proto`, `https`)', 'https://a/', { headers: { 'X-Forwarded-Proto': 'http' } })).toBe(false);
    expect(matches('HeaderRegexp(`X-Api`, `^v[0-9]+$`)', 'https://a/', { headers: { 'x-api': 'v12' } })).toBe(true);
    expect(matches('Method(`post`)', 'https://a/', { method: 'POST' })).toBe(true);
    expect(matches('ClientIP(`10.0.0.0/8`)', 'https://a/', { clientIp: '10.1.2.3' })).toBe(true);
    expect(matches('ClientIP(`10.0.0.0/8`)', 'https://a/', { clientIp: '192.168.1.2' })).toBe(false);
    expect(matches('ClientIP(`::1`)', 'https://a/', { clientIp: '::1' })).toBe(true);
    expect(matches('HostRegexp(`^[a-z]+\\.lan$`)', 'https://gitea.lan/')).toBe(true);
  });

  it('rejects what Traefik rejects, with its words', () => {
    const err = (rule: string, syntax: RuleSyntax = 'v3') => {
      try {
        parseRule(rule, syntax);
      } catch (e) {
        expect(e).toBeInstanceOf(RuleError);
        return (e as Error).message;
      }
      return 'parsed';
    };
    expect(err('PathRegexp()')).toBe('no args for matcher PathRegexp');
    expect(err('PathRegexp(``)')).toBe('empty args for matcher PathRegexp, []');
    expect(err('PathRegexp(`/(css`)')).toMatch(/compiling PathRegexp matcher/);
    expect(err('PathRegexp(`/css`, `/js`)')).toBe('unexpected number of parameters; got 2, expected one of [1]');
    expect(err('Query(`q`, `traefik`, `proxy`)')).toBe('unexpected number of parameters; got 3, expected one of [1 2]');
    expect(err('Header(`X-Forwarded-Host`)')).toBe('unexpected number of parameters; got 1, expected one of [2]');
    expect(err('PathPrefix(`api`)')).toBe('path "api" does not start with a \'/\'');
    expect(err('Host(`🦭.com`)')).toMatch(/non-ASCII characters are not allowed/);
    expect(err('pathPrefix(`/x`)')).toBe('unsupported function: pathPrefix');
    expect(err('Host(`a`, `b`)')).toMatch(/got 2/);
    // Backreferences are not RE2: Go's regexp refuses them, so must the evaluator.
    expect(err('HostRegexp(`^(a)\\1$`)')).toMatch(/compiling HostRegexp/);
    expect(err('Host(`a`) &&')).toMatch(/unexpected end/);
  });

  it('reads Go string literals: raw strings keep backslashes, interpreted strings unescape', () => {
    expect(matches('PathRegexp(`^/v\\d+/`)', 'https://a/v2/x')).toBe(true);
    expect(matches('PathRegexp("^/v\\\\d+/")', 'https://a/v2/x')).toBe(true);
  });

  it('evaluates the v2 syntax where a router asks for it: several hosts, mux templates, Headers pairs', () => {
    expect(matches('Host(`a.lan`, `b.lan`)', 'https://b.lan/', {}, 'v2')).toBe(true);
    expect(matches('HostRegexp(`{sub:[a-z]+}.example.com`)', 'https://foo.example.com/', {}, 'v2')).toBe(true);
    expect(matches('HostRegexp(`{sub:[a-z]+}.example.com`)', 'https://foo.bar.example.com/', {}, 'v2')).toBe(false);
    expect(matches('Path(`/users/{id:[0-9]+}`)', 'https://a/users/12', {}, 'v2')).toBe(true);
    expect(matches('Path(`/users/{id:[0-9]+}`)', 'https://a/users/12/x', {}, 'v2')).toBe(false);
    expect(matches('PathPrefix(`/api/{v}`)', 'https://a/api/v1/x', {}, 'v2')).toBe(true);
    expect(matches('Headers(`X-A`, `1`)', 'https://a/', { headers: { 'x-a': '1' } }, 'v2')).toBe(true);
    expect(matches('Query(`mobile=true`)', 'https://a/?mobile=true', {}, 'v2')).toBe(true);
    expect(matches('Method(`GET`, `POST`)', 'https://a/', { method: 'POST' }, 'v2')).toBe(true);
    // v3 refuses two hosts in one Host().
    expect(() => parseRule('Host(`a.lan`, `b.lan`)', 'v3')).toThrow(/unexpected number of parameters/);
  });

  it('names each matcher call with its result, so a near miss can say which part failed', () => {
    const { leaves } = evaluateRule(parseRule('Host(`k.lan`) && PathPrefix(`/bookmarks`)'), req('https://k.lan/api/bookmarks/'));
    expect(leaves).toEqual([
      { text: 'Host(`k.lan`)', matcher: 'Host', matched: true, negated: false },
      { text: 'PathPrefix(`/bookmarks`)', matcher: 'PathPrefix', matched: false, negated: false },
    ]);
  });
});
