import type { Logger } from 'pino';
import { ShardError, planRequest, toTimestamp, type ShardHandlers } from '@homelab-mcp/shard-kit';
import { ChangeKind } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import { AddDynamicConfigRequest, AddDynamicConfigResponse, RecoveryOutcome, RemoveDynamicConfigRequest, RemoveDynamicConfigResponse, type InterruptedChange, type NavigatorServiceService } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { buildRouteFile } from './dynamic/model.js';
import type { RecoveryRecord } from './dynamic/journal.js';
import type { DynamicStore } from './dynamic/store.js';
import { getRoutes, toRoute } from './routes.js';
import { checkSslStatus } from './ssl.js';
import { createSurfaceHandlers } from './surface.js';
import { traceRequest } from './trace/trace.js';
import { RawDataSnapshots } from './upstream/snapshots.js';
import type { TraefikApi } from './upstream/traefik-api.js';

const OUTCOME: Record<RecoveryRecord['outcome'], RecoveryOutcome> = {
  pending: RecoveryOutcome.RECOVERY_OUTCOME_PENDING,
  completed: RecoveryOutcome.RECOVERY_OUTCOME_COMPLETED,
  'rolled-back': RecoveryOutcome.RECOVERY_OUTCOME_ROLLED_BACK,
  unchanged: RecoveryOutcome.RECOVERY_OUTCOME_UNCHANGED,
  'left-alone': RecoveryOutcome.RECOVERY_OUTCOME_LEFT_ALONE,
  failed: RecoveryOutcome.RECOVERY_OUTCOME_FAILED,
};
const KIND: Record<RecoveryRecord['kind'], ChangeKind> = { create: ChangeKind.CHANGE_KIND_CREATE, update: ChangeKind.CHANGE_KIND_UPDATE, delete: ChangeKind.CHANGE_KIND_DELETE };

function toInterruptedChange(r: RecoveryRecord): InterruptedChange {
  return {
    planId: r.planId,
    name: r.name,
    file: r.file,
    kind: KIND[r.kind],
    startedAt: toTimestamp(new Date(r.startedAt)),
    ...(r.settledAt ? { settledAt: toTimestamp(new Date(r.settledAt)) } : {}),
    outcome: OUTCOME[r.outcome],
    detail: r.detail,
  };
}

export interface NavigatorDeps {
  api: TraefikApi;
  store: DynamicStore;
  websecureAddress?: string | undefined;
  logger: Logger;
}

/** The Navigator's RPC handlers: thin, typed, on the Traefik API client and the dynamic store. */
export function createHandlers(deps: NavigatorDeps): ShardHandlers<typeof NavigatorServiceService> {
  const { api, store } = deps;
  const snapshots = new RawDataSnapshots();
  return {
    ...createSurfaceHandlers(api, store),
    getRoutes: (req, ctx) => getRoutes(api, req, ctx.signal, snapshots),

    addDynamicConfig: async (req, ctx) => {
      const route = buildRouteFile(req);
      const file = store.fileName(req.name);
      if (!req.planId) {
        const problem = await store.problem();
        if (problem) throw new ShardError('FAILED_PRECONDITION', problem, { reason: 'DYNAMIC_DIR_UNAVAILABLE', hint: 'Mount Traefik\'s file-provider directory read-write into shard-traefik (TRAEFIK_DYNAMIC_DIR).' });
        const { plan, skipped } = await store.planAdd(req.name, route, planRequest(AddDynamicConfigRequest, req));
        const unchecked = skipped.length ? ` Not checked for names other files define: ${skipped.map((e) => `${e.path} (${e.reason})`).join('; ')}.` : '';
        return AddDynamicConfigResponse.fromPartial({ plan, file, skipped, message: (plan.noOp ? plan.summary : `Plan ready: ${plan.summary}. Call add_dynamic_config again with the same arguments and plan_id "${plan.id}" to apply it.`) + unchecked });
      }
      const { router } = await store.apply(req.planId, planRequest(AddDynamicConfigRequest, req), ctx.signal);
      return AddDynamicConfigResponse.fromPartial({
        applied: true,
        file,
        ...(router ? { route: toRoute(router, 1, new Map()) } : {}),
        message: `Wrote ${file}; Traefik loaded router ${req.name}@file and it is enabled.`,
      });
    },

    removeDynamicConfig: async (req, ctx) => {
      if (!req.planId) {
        const plan = await store.planRemove(req.name, planRequest(RemoveDynamicConfigRequest, req));
        return RemoveDynamicConfigResponse.fromPartial({ plan, message: `Plan ready: ${plan.summary}. Call remove_dynamic_config again with plan_id "${plan.id}" to apply it.` });
      }
      await store.apply(req.planId, planRequest(RemoveDynamicConfigRequest, req), ctx.signal);
      return RemoveDynamicConfigResponse.fromPartial({ applied: true, message: `Removed ${store.fileName(req.name)}; Traefik no longer serves ${req.name}@file.` });
    },

    listDynamicConfigs: async () => {
      const problem = await store.problem();
      const files = problem ? [] : await store.list();
      return {
        files: files.map((f) => ({ ...f, modifiedAt: toTimestamp(f.modifiedAt), sizeBytes: String(f.size) })),
        directory: store.dir,
        writable: !problem,
        problem: problem ?? '',
        interruptedChanges: (await store.recoveries()).map(toInterruptedChange),
      };
    },

    checkSslStatus: (req, ctx) => checkSslStatus(api, deps.websecureAddress, req, ctx.signal),

    traceRequest: (req, ctx) => traceRequest(api, deps.websecureAddress, req, ctx.signal, snapshots),
  };
}
