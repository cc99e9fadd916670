// @peculiar/x509 resolves its ASN.1 classes through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile, access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { IDENTITY_PATTERN, identityHostName, identityUri } from './identity.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** Extra DNS names besides the identity itself and localhost. */
  dnsNames?: string[];
  /** Extra IP addresses besides 127.0.0.1 and ::1. */
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Validity in days from now (ignored when notAfter is given). Default 365. */
  days?: number;
}

export interface IdentityFiles {
  certFile: string;
  keyFile: string;
}

export interface PkiFiles {
  caFile: string;
  identities: Record<string, IdentityFiles>;
}

export interface EnsurePkiOptions {
  dnsNames?: string[];
  /** Called with what was created, for progress output ("CA", "gateway certificate"). */
  onCreate?: (what: string) => void;
}

function toPem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

/** Creates a private CA (ECDSA P-256, 10 years unless told otherwise). */
export async function createCa(name = 'homelab-mcp CA', opts: { notBefore?: Date; notAfter?: Date } = {}): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}, O=homelab-mcp`,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 3650 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey), cert, key: keys.privateKey };
}

/** Loads a CA from its PEM files. */
export async function loadCa(certFile: string, keyFile: string): Promise<CertificateAuthority> {
  const certPem = await readFile(certFile, 'utf8');
  const keyPem = await readFile(keyFile, 'utf8');
  const key = await webcrypto.subtle.importKey('pkcs8', fromPem(keyPem), ALG, true, ['sign']);
  return { certPem, keyPem, cert: new x509.X509Certificate(certPem), key: key as CryptoKey };
}

/**
 * Issues a certificate for one identity, usable as TLS server and client: the
 * identity as URI SAN (spiffe://homelab-mcp/<identity>) is what peers check;
 * DNS and IP SANs let ordinary TLS tools connect too.
 */
export async function issueCertificate(ca: CertificateAuthority, identity: string, opts: IssueOptions = {}): Promise<IssuedCertificate> {
  if (!IDENTITY_PATTERN.test(identity)) {
    throw new Error(`identity "${identity}" must be lowercase letters, digits and dashes, e.g. shard-traefik, or one instance of it after a slash, e.g. shard-dozzle/nas`);
  }
  const keys = await newKeys();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.days ?? 365) * DAY);
  const dns = [...new Set([identityHostName(identity), 'localhost', ...(opts.dnsNames ?? [])])];
  const ips = [...new Set(['127.0.0.1', '::1', ...(opts.ipAddresses ?? [])])];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${identity}, O=homelab-mcp`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: identityUri(identity) },
        ...dns.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey) };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/** Writes atomically (temp file + rename) with the given mode; keys get 0600. */
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

function layout(dir: string) {
  return {
    caFile: join(dir, 'ca.pem'),
    caKeyFile: join(dir, 'ca-key.pem'),
    identity: (id: string): IdentityFiles => ({ certFile: join(dir, identityHostName(id), 'cert.pem'), keyFile: join(dir, identityHostName(id), 'key.pem') }),
  };
}

async function ensureCa(dir: string, onCreate?: (what: string) => void): Promise<CertificateAuthority> {
  const l = layout(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await exists(l.caFile)) && (await exists(l.caKeyFile))) return loadCa(l.caFile, l.caKeyFile);
  const ca = await createCa();
  await writeAtomic(l.caKeyFile, ca.keyPem, 0o600);
  await writeAtomic(l.caFile, ca.certPem, 0o644);
  onCreate?.(`CA (${l.caFile})`);
  return ca;
}

/** Issues (or replaces) one identity's certificate with the CA in `dir`. */
export async function issueIdentity(dir: string, identity: string, opts: IssueOptions = {}): Promise<IdentityFiles> {
  const ca = await ensureCa(dir);
  const files = layout(dir).identity(identity);
  const issued = await issueCertificate(ca, identity, opts);
  await writeAtomic(files.keyFile, issued.keyPem, 0o600);
  await writeAtomic(files.certFile, issued.certPem, 0o644);
  return files;
}

/**
 * Creates, on first run, a CA and one certificate per identity in `dir`
 * (`ca.pem`, `ca-key.pem`, `<identity>/cert.pem`, `<identity>/key.pem`, an
 * instance's under `shard-dozzle.nas/`; keys
 * 0600, directories 0700). Later runs keep what exists.
 */
export async function ensurePki(dir: string, identities: string[], opts: EnsurePkiOptions = {}): Promise<PkiFiles> {
  const l = layout(dir);
  await ensureCa(dir, opts.onCreate);
  const result: PkiFiles = { caFile: l.caFile, identities: {} };
  for (const id of identities) {
    const files = l.identity(id);
    if (!((await exists(files.certFile)) && (await exists(files.keyFile)))) {
      await issueIdentity(dir, id, { ...(opts.dnsNames ? { dnsNames: opts.dnsNames } : {}) });
      opts.onCreate?.(`${id} certificate`);
    }
    result.identities[id] = files;
  }
  return result;
}

export interface ServerCertificateOptions {
  commonName: string;
  dnsNames: string[];
  notBefore?: Date;
  notAfter?: Date;
  organization?: string;
}

/**
 * A plain TLS server certificate (no homelab-mcp identity), signed by `ca` or
 * self-signed when none is given: what stand-ins serve to clients that check
 * certificates (an expired one, one for the wrong host, a self-signed default).
 */
export async function issueServerCertificate(ca: CertificateAuthority | undefined, opts: ServerCertificateOptions): Promise<IssuedCertificate> {
  const keys = await newKeys();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 365 * DAY);
  const subject = `CN=${opts.commonName}${opts.organization ? `, O=${opts.organization}` : ''}`;
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(opts.dnsNames.map((value) => ({ type: 'dns' as const, value }))),
  ];
  const cert = ca
    ? await x509.X509CertificateGenerator.create({ serialNumber: randomSerial(), subject, issuer: ca.cert.subject, notBefore, notAfter, publicKey: keys.publicKey, signingKey: ca.key, signingAlgorithm: ALG, extensions })
    : await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: randomSerial(), name: subject, notBefore, notAfter, keys, signingAlgorithm: ALG, extensions });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey) };
}
