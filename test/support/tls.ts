/** A self-signed certificate for 127.0.0.1/localhost, made with openssl, and an HTTPS client trusting it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { tempDir } from './server.js';

export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
}

export function makeSelfSignedCert(): TestCert {
  const dir = tempDir('tsstore-tls-');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile, cert: fs.readFileSync(certFile) };
}

/** One HTTPS request that verifies the server against `ca`. */
export function httpsRequest(
  url: string,
  method: string,
  body: string | undefined,
  headers: Record<string, string>,
  ca: Buffer,
): Promise<{ status: number; text: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, agent: false }, (res) => {
      const authorized = (res.socket as import('node:tls').TLSSocket).authorized;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, authorized }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
