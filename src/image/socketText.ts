// A socket of a .ckpt image as text for the model (the Process tab, diff): its addresses as
// "127.0.0.1:80", "[::1]:80", "/path" or "@abstract", and what its format 2.1 socket_details
// add to its kernel state.

/** A sockaddr as the kernel gave it (getsockname/getpeername), as text; '' when there is none. */
export function sockaddrText(b: Uint8Array | undefined): string {
  if (!b || b.length < 2) return '';
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = dv.getUint16(0, true);
  if (family === 1) {
    if (b.length <= 2) return '';
    const path = b.subarray(2);
    if (path[0] === 0) return '@' + Buffer.from(path.subarray(1)).toString('utf8');
    const end = path.indexOf(0);
    return Buffer.from(end >= 0 ? path.subarray(0, end) : path).toString('utf8');
  }
  if (family === 2 && b.length >= 8) return `${b[4]}.${b[5]}.${b[6]}.${b[7]}:${dv.getUint16(2, false)}`;
  if (family === 10 && b.length >= 24) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(dv.getUint16(8 + i * 2, false).toString(16));
    const addr = groups
      .join(':')
      .replace(/(^|:)0(:0)+(:|$)/, '::')
      .replace(/:{3,}/, '::');
    return `[${addr}]:${dv.getUint16(2, false)}`;
  }
  return `family ${family}`;
}

export interface SocketDetails {
  flags: number;
  backlog: number;
  local?: Uint8Array;
  remote?: Uint8Array;
  peerOwner?: string;
}

const FLAG = { listening: 1, peerClosed: 2, reset: 4, pending: 8, accepted: 16, reuseaddr: 32, reuseport: 64, v6only: 128, repaired: 256 };

/** What a 2.1 image says of a socket beyond its kernel state: how restore makes it again, and
 * the options it sets. */
export function socketQualifiers(d: SocketDetails | undefined): string[] {
  const words: string[] = [];
  const f = d?.flags ?? 0;
  if (f & FLAG.listening && d?.backlog) words.push(`backlog ${d.backlog}`);
  if (f & FLAG.reset) words.push('reset by the peer (--tcp-close)');
  if (f & FLAG.peerClosed) words.push('closed by the peer');
  if (f & FLAG.pending) words.push('not accepted yet');
  if (f & FLAG.accepted) words.push('accepted');
  if (f & FLAG.repaired) words.push('captured with TCP_REPAIR');
  if (f & FLAG.reuseaddr) words.push('SO_REUSEADDR');
  if (f & FLAG.reuseport) words.push('SO_REUSEPORT');
  if (f & FLAG.v6only) words.push('IPV6_V6ONLY');
  return words;
}

const FAMILIES: Record<number, string> = { 1: 'unix', 2: 'inet', 10: 'inet6' };
const TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };

/** A socket's name in a diff or a list: "unix stream /run/x.sock -> pid 12 (nc)". */
export function socketName(extra: { family: number; type: number; details?: { local: { value: Uint8Array }; remote: { value: Uint8Array }; peerOwner: { value: string } } }): string {
  const d = extra.details;
  const local = sockaddrText(d?.local.value) || 'unnamed';
  const remote = d?.peerOwner.value || sockaddrText(d?.remote.value);
  return `${FAMILIES[extra.family] ?? `family ${extra.family}`} ${TYPES[extra.type] ?? `type ${extra.type}`} ${local}${remote ? ` -> ${remote}` : ''}`;
}
