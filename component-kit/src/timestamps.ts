// google.protobuf.Timestamp and Duration as ts-proto represents them (forceLong=string, useDate=false),
// for the gateway and the shards alike; structural, so it needs no generated type.

export interface Timestamp {
  seconds: string;
  nanos: number;
}

export type Duration = Timestamp;

export function toTimestamp(d: Date): Timestamp {
  return fromMs(d.getTime());
}

export function fromTimestamp(t: Timestamp): Date {
  return new Date(toMs(t));
}

/** Milliseconds as a Duration (or a Timestamp since the epoch). */
export function fromMs(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1_000_000) };
}

/** A Duration (or a Timestamp) in milliseconds; protobuf-es's bigint seconds are read too. */
export function toMs(d: { seconds: string | bigint; nanos: number }): number {
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}
