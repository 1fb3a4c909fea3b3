import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, type AppConfig } from '../config/app-config.js';

export interface TlsOptions {
  key: Buffer;
  cert: Buffer;
  minVersion: 'TLSv1.2';
  allowHTTP1: true;
}

function read(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`Invalid configuration: ${variable}: cannot read ${file} (${reason})`);
  }
}

/**
 * The certificate and key, checked at start: an unreadable file or a key that does not match
 * the certificate stops the server with a message that says which. TLS 1.2 is the oldest
 * version accepted; Node's default cipher list leaves out the weak ciphers.
 */
export function loadTls({ certFile, keyFile }: NonNullable<AppConfig['http']['tls']>): TlsOptions {
  const cert = read('TLS_CERT_FILE', certFile);
  const key = read('TLS_KEY_FILE', keyFile);
  try {
    createSecureContext({ key, cert });
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration: TLS_KEY_FILE: not a key for the certificate in TLS_CERT_FILE (${(error as Error).message})`,
    );
  }
  return { key, cert, minVersion: 'TLSv1.2', allowHTTP1: true };
}
