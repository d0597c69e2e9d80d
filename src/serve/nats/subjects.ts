import { checkInteger, fail } from '../../errors.js';

/**
 * The NATS names of a sharded service NAME with N shards, shard I in 0..N-1:
 *
 *   NAME.search.I    search requests (replies to the request's inbox); the replicas of shard I
 *                    subscribe in queue group NAME.shard.I, so each request goes to one of them
 *   NAME.info.I      a replica's description as JSON (same queue group)
 *   NAME.lookup.I    which of some keys the shard holds, as JSON (same queue group)
 *   NAME.applied.I   what applying one change of the log did (applied, refused and why, or
 *                    unknown), as JSON (same queue group); see apply-results.ts
 *   NAME.changes.I   the shard's change log: JetStream stream NAME_changes_I
 *
 * NAME: letters, digits, '-' and '_' (a NATS subject token and part of a stream name).
 */
export interface ServiceNames {
  readonly service: string;
  readonly shards: number;
}

const SERVICE_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function checkService(service: string, shards: number): ServiceNames {
  if (typeof service !== 'string' || !SERVICE_RE.test(service))
    fail('INVALID_ARGUMENT', `service ${JSON.stringify(service)}: use 1 to 64 letters, digits, '-' or '_'`);
  checkInteger('shards', shards, 1, 1024);
  return { service, shards };
}

export function checkShard(names: ServiceNames, shard: number): number {
  return checkInteger('shard', shard, 0, names.shards - 1);
}

export const searchSubject = (n: ServiceNames, shard: number) => `${n.service}.search.${shard}`;
export const infoSubject = (n: ServiceNames, shard: number) => `${n.service}.info.${shard}`;
export const lookupSubject = (n: ServiceNames, shard: number) => `${n.service}.lookup.${shard}`;
export const appliedSubject = (n: ServiceNames, shard: number) => `${n.service}.applied.${shard}`;
export const changesSubject = (n: ServiceNames, shard: number) => `${n.service}.changes.${shard}`;
export const queueGroup = (n: ServiceNames, shard: number) => `${n.service}.shard.${shard}`;
export const changesStream = (n: ServiceNames, shard: number) => `${n.service}_changes_${shard}`;
