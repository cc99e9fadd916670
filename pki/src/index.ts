export {
  IDENTITY_URI_PREFIX,
  createCa,
  issueCertificate,
  ensurePki,
  issueIdentity,
  issueServerCertificate,
  type ServerCertificateOptions,
  loadCa,
  type CertificateAuthority,
  type IssuedCertificate,
  type PkiFiles,
  type IdentityFiles,
  type EnsurePkiOptions,
  type IssueOptions,
} from './pki.js';
export { describeCertificate, readIdentity, identityUri, type CertificateInfo } from './inspect.js';
