import { EventEmitter } from 'node:events';
import type { ToolSpec } from '../schema/index.js';
import type { ShardConnection } from './shard-connection.js';
import { groupByKind, representative } from './instances.js';
import { assignToolNames, toSnakeCase, type NamedTool } from './tool-names.js';

export interface ToolEntry {
  /** Name clients see. */
  name: string;
  spec: ToolSpec;
  /** The instance whose contract the tool comes from: the first serving one of its kind. */
  shard: ShardConnection;
  /** Every instance of the shard's kind, the default one first (one, unless several nodes run one). */
  instances: readonly ShardConnection[];
  /** gRPC method path, /package.Service/Method. */
  path: string;
}

/**
 * The gateway-wide tool table. Names are assigned over every shard whose
 * contract is known, listed or not, so a shard going down never renames
 * another shard's tools. Instances of one kind share one tool per RPC, listed
 * while any of them serves: the list changes when the first one comes or the
 * last one goes. Emits `changed` when the listed set changes.
 */
export class ToolTable extends EventEmitter<{ changed: [] }> {
  private entries = new Map<string, ToolEntry>();
  private listedKey = '';
  private pending = false;

  constructor(private readonly shards: readonly ShardConnection[], private readonly reserved: ReadonlySet<string>) {
    super();
    for (const shard of shards) this.track(shard);
    this.rebuild();
  }

  /** Follows a shard added to the list after start (an instance added to GATEWAY_CONFIG); `refresh` after one left it. */
  track(shard: ShardConnection): void {
    shard.on('change', () => this.schedule());
    this.schedule();
  }

  refresh(): void {
    this.schedule();
  }

  /** Tools of shards that are SERVING, sorted by name. */
  listed(): ToolEntry[] {
    return [...this.entries.values()].filter((e) => e.instances.some((i) => i.isServing())).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Any known tool by name, listed or not (a hidden one belongs to a shard that is down). */
  find(name: string): ToolEntry | undefined {
    return this.entries.get(name);
  }

  /** The tools of one shard, listed or not, sorted by name. */
  ofShard(shard: ShardConnection): ToolEntry[] {
    return [...this.entries.values()].filter((e) => e.instances.includes(shard)).sort((a, b) => a.name.localeCompare(b.name));
  }

  // Several shard events in one tick (reflection then SERVING) become one notification.
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.rebuild();
    });
  }

  private rebuild(): void {
    const named: NamedTool<{ spec: ToolSpec; shard: ShardConnection; instances: readonly ShardConnection[] }>[] = [];
    for (const [kind, instances] of groupByKind(this.shards)) {
      const shard = representative(instances);
      if (!shard) continue;
      for (const spec of shard.tools()) named.push({ shard: kind, base: spec.name || toSnakeCase(spec.method.name), item: { spec, shard, instances } });
    }
    const next = new Map<string, ToolEntry>();
    for (const [name, t] of assignToolNames(named, this.reserved)) {
      const method = t.item.spec.method;
      next.set(name, { name, spec: t.item.spec, shard: t.item.shard, instances: t.item.instances, path: `/${method.parent.typeName}/${method.name}` });
    }
    this.entries = next;
    const key = this.listed()
      .map((e) => `${e.name}\0${e.shard.status().descriptorHash ?? ''}`)
      .join('\n');
    if (key !== this.listedKey) {
      this.listedKey = key;
      this.emit('changed');
    }
  }
}
