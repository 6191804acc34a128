import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadYaml, TLS_FIXTURES } from "./helpers.ts";

const tls = (cert: string, key: string) => `http:\n  tls:\n    cert: ${JSON.stringify(cert)}\n    key: ${JSON.stringify(key)}\n`;
const fixture = (name: string) => join(TLS_FIXTURES, name);

describe("config: http.tls", () => {
  it("resolves relative certificate paths against the config file, as hub.dataDir", async () => {
    const { problems, loaded, dir } = await loadYaml(async (dir) => {
      await mkdir(join(dir, "tls"));
      await copyFile(fixture("a.cert.pem"), join(dir, "tls/cert.pem"));
      await copyFile(fixture("a.key.pem"), join(dir, "tls/key.pem"));
      return tls("tls/cert.pem", "./tls/key.pem");
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(loaded?.config.http.tls, { cert: join(dir, "tls/cert.pem"), key: join(dir, "tls/key.pem") });
  });

  it("reports a missing file with its key, line and path", async () => {
    const { problems, dir } = await loadYaml(tls("nope.pem", fixture("a.key.pem")));
    const path = join(dir, "nope.pem");
    assert.deepEqual(problems, [`config.yaml:3: http.tls.cert: cannot read ${path}: ENOENT: no such file or directory, open '${path}'`]);
  });

  it("reports a file that holds no certificate or no key, and a key that is not the certificate's", async () => {
    let garbage = "";
    const swapped = await loadYaml(async (dir) => {
      garbage = join(dir, "garbage.pem");
      await writeFile(garbage, "not a certificate\n");
      return tls(garbage, fixture("a.cert.pem"));
    });
    assert.deepEqual(swapped.problems, [
      `config.yaml:3: http.tls.cert: ${garbage} holds no usable PEM certificate (error:0480006C:PEM routines::no start line)`,
      `config.yaml:4: http.tls.key: ${fixture("a.cert.pem")} holds no usable PEM private key (error:1E08010C:DECODER routines::unsupported)`,
    ]);
    const mismatched = await loadYaml(tls(fixture("a.cert.pem"), fixture("b.key.pem")));
    assert.deepEqual(mismatched.problems, [
      `config.yaml:4: http.tls.key: ${fixture("b.key.pem")} is not the key of the certificate in ${fixture("a.cert.pem")} (error:05800074:x509 certificate routines::key values mismatch)`,
    ]);
  });
});
