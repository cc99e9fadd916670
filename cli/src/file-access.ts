/** Owner, group and mode as stat() reports them. */
export interface Access {
  uid: number;
  gid: number;
  mode: number;
}

/** The permission bits that apply to uid:gid (owner, else group, else other); no ACLs or capabilities. */
function bitsFor(st: Access, uid: number, gid: number): number {
  return st.uid === uid ? (st.mode >> 6) & 7 : st.gid === gid ? (st.mode >> 3) & 7 : st.mode & 7;
}

/** Whether uid:gid may create files in a directory with this owner and mode (no ACLs, no capabilities). */
export function canWrite(st: Access, uid: number, gid: number): boolean {
  return uid === 0 || (bitsFor(st, uid, gid) & 0o3) === 0o3;
}

/** Whether uid:gid may read a file (or list and search a directory) with this owner and mode. */
export function canRead(st: Access & { isDirectory(): boolean }, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  const bits = bitsFor(st, uid, gid);
  return st.isDirectory() ? (bits & 0o5) === 0o5 : (bits & 0o4) === 0o4;
}
