import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { describeError, SimhiveError } from "../errors.ts";

/** `http.tls`: paths of the PEM files (absolute once the config is loaded). */
export interface TlsFiles {
  cert: string;
  key: string;
}

async function read(path: string, key: keyof TlsFiles, problems: string[]): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    problems.push(`http.tls.${key}: cannot read ${path}: ${describeError(error)}`);
    return undefined;
  }
}

function fails(options: { cert?: Buffer; key?: Buffer }): string | undefined {
  try {
    createSecureContext(options);
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}

/**
 * Reads the certificate and key and checks that they make a TLS context: each
 * file readable, each PEM of its kind, the key the certificate's. Problems are
 * `http.tls.cert: ...` lines naming the file.
 */
export async function checkTlsFiles(tls: TlsFiles): Promise<{ cert?: Buffer; key?: Buffer; problems: string[] }> {
  const problems: string[] = [];
  const cert = await read(tls.cert, "cert", problems);
  const key = await read(tls.key, "key", problems);
  const certFails = cert && fails({ cert });
  if (certFails) problems.push(`http.tls.cert: ${tls.cert} holds no usable PEM certificate (${certFails})`);
  const keyFails = key && fails({ key });
  if (keyFails) problems.push(`http.tls.key: ${tls.key} holds no usable PEM private key (${keyFails})`);
  if (cert && key && !certFails && !keyFails) {
    const pairFails = fails({ cert, key });
    if (pairFails) problems.push(`http.tls.key: ${tls.key} is not the key of the certificate in ${tls.cert} (${pairFails})`);
  }
  return problems.length ? { problems } : { cert, key, problems };
}

/** The certificate and key for the HTTPS server; SIMHIVE_ERR_CONFIG naming the key and file when they do not serve. */
export async function readTlsFiles(tls: TlsFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const { cert, key, problems } = await checkTlsFiles(tls);
  if (!cert || !key) throw new SimhiveError("SIMHIVE_ERR_CONFIG", problems.join("; "), { details: problems });
  return { cert, key };
}
