import { describe, expect, it } from '@jest/globals';
import { mergeParts } from '../src/fanout/merge.js';

const opts = { items: 'matches', nodeField: 'node', sortBy: 'line.time', descending: false, limitArgument: 'max_matches' };
const match = (container: string, time: string) => ({ container, node: '', line: { time } });

describe('merging the answers of several instances', () => {
  it('marks each item with its node, sorts by the field path and cuts to the limit after the merge', () => {
    const merged = mergeParts(
      [
        { node: 'main', json: { matches: [match('gitea', '2026-11-24T10:00:03Z'), match('gitea', '2026-11-24T10:00:05Z')] } },
        { node: 'nas', json: { matches: [match('paperless', '2026-11-24T10:00:04Z'), match('backup', '2026-11-24T10:00:01Z')] } },
      ],
      opts,
      3,
    );
    expect((merged.json.matches as { container: string; node: string }[]).map((m) => `${m.container}@${m.node}`)).toEqual(['backup@nas', 'gitea@main', 'paperless@nas']);
    expect(merged.cut).toBe(1);
    expect(merged.fleet).toEqual({ partial: false, instances: [{ node: 'main', ok: true, error: '', items: 2 }, { node: 'nas', ok: true, error: '', items: 2 }] });
  });

  it('sums counts (64-bit ones as strings), or-s flags, merges maps and joins distinct reasons', () => {
    const merged = mergeParts(
      [
        { node: 'main', json: { matches: [], containers_searched: 3, lines_scanned: { gitea: '9007199254740993' }, limit_reached: false, stopped_reason: '' } },
        { node: 'nas', json: { matches: [], containers_searched: 2, lines_scanned: { gitea: '7', backup: '5' }, limit_reached: true, stopped_reason: 'time budget' } },
      ],
      opts,
      0,
    );
    expect(merged.json).toEqual({ matches: [], containers_searched: 5, lines_scanned: { gitea: '9007199254741000', backup: '5' }, limit_reached: true, stopped_reason: 'time budget' });
  });

  it('is partial when an instance has no answer, keeping the others\' items and saying why', () => {
    const merged = mergeParts([{ node: 'main', json: { matches: [match('gitea', 't')] } }, { node: 'nas', error: 'node nas is unreachable' }], { ...opts, sortBy: '' }, 0);
    expect(merged.fleet.partial).toBe(true);
    expect(merged.fleet.instances[1]).toEqual({ node: 'nas', ok: false, error: 'node nas is unreachable', items: 0 });
    expect(merged.json.matches).toHaveLength(1);
  });

  it('sets a nested node field and sorts numbers by value, largest first when asked', () => {
    const stats = (name: string, cpu: number) => ({ container: { name, node: '' }, cpu_percent: cpu });
    const merged = mergeParts(
      [{ node: 'main', json: { stats: [stats('a', 2), stats('b', 10)] } }, { node: 'nas', json: { stats: [stats('c', 9)] } }],
      { items: 'stats', nodeField: 'container.node', sortBy: 'cpu_percent', descending: true, limitArgument: '' },
      0,
    );
    expect((merged.json.stats as { container: { name: string; node: string } }[]).map((s) => `${s.container.name}@${s.container.node}`)).toEqual(['b@main', 'c@nas', 'a@main']);
  });
});
