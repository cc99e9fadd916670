export { PLAN_ID_FIELD, PLAN_ID_JSON_NAME, bindRequest } from './binding.js';
export { PlanLedger, PlanRefusal, type PlanLedgerOptions, type PlanRefusalReason } from './ledger.js';
