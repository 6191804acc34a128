import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFile, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { connect } from "node:tls";
import { describe, it } from "node:test";
import Koa from "koa";
import { isSimhiveError } from "../../../core/errors.ts";
import { HttpServer } from "../../../core/http/server.ts";
import { makeTempDir } from "../../helpers/hub.ts";
import { spawnHub, waitFor } from "../../helpers/process.ts";

const FIXTURES = new URL("../../fixtures/tls/", import.meta.url).pathname;

/** The SHA-256 fingerprint of the certificate a new TLS connection to the port is given. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", reject);
  });
}

const fingerprintOf = async (name: string) => new X509Certificate(await readFile(join(FIXTURES, name))).fingerprint256;

describe("https (http.tls)", () => {
  it("serves HTTPS with the configured certificate and, after SIGHUP with swapped files, the new one", async () => {
    const dir = await makeTempDir();
    await copyFile(join(FIXTURES, "a.cert.pem"), join(dir, "cert.pem"));
    await copyFile(join(FIXTURES, "a.key.pem"), join(dir, "key.pem"));
    const file = join(dir, "config.yaml");
    // Relative paths: against the config file, wherever the hub is started from.
    await writeFile(file, ["hub: { dataDir: data }", "http: { host: 127.0.0.1, port: 0, tls: { cert: cert.pem, key: key.pem } }", "modems: { ports: [] }"].join("\n"));
    const hub = spawnHub(file);
    try {
      const port = await hub.port();
      const ready = await waitFor("/readyz over HTTPS", async () => {
        const res = await fetchWithCa(`https://127.0.0.1:${port}/readyz`, join(FIXTURES, "a.cert.pem"));
        return res.status === 200 ? res : undefined;
      });
      assert.equal(ready.status, 200);
      assert.equal(await servedFingerprint(port), await fingerprintOf("a.cert.pem"));

      await copyFile(join(FIXTURES, "b.cert.pem"), join(dir, "cert.pem"));
      await copyFile(join(FIXTURES, "b.key.pem"), join(dir, "key.pem"));
      hub.child.kill("SIGHUP");
      const expected = await fingerprintOf("b.cert.pem");
      await waitFor("the new certificate", async () => ((await servedFingerprint(port)) === expected ? true : undefined));
      assert.equal((await fetchWithCa(`https://127.0.0.1:${port}/healthz`, join(FIXTURES, "b.cert.pem"))).status, 200);
      hub.child.kill("SIGTERM");
      assert.equal(await hub.exited, 0, hub.output());
    } finally {
      hub.child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses to listen on a certificate that cannot be read, naming the key and the file", async () => {
    await assert.rejects(
      HttpServer.listen(new Koa(), { host: "127.0.0.1", port: 0, requestTimeoutMs: 1000, tls: { cert: "/nope.pem", key: join(FIXTURES, "a.key.pem") } }),
      (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_CONFIG") && error.message === "http.tls.cert: cannot read /nope.pem: ENOENT: no such file or directory, open '/nope.pem'",
    );
  });
});

/** GET over HTTPS trusting only the given certificate. */
async function fetchWithCa(url: string, caFile: string): Promise<{ status: number }> {
  const ca = await readFile(caFile);
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end();
  });
}
