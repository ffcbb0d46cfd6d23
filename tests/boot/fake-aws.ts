/**
 * Stands in for the AWS endpoints and download sites a monitoring host talks to, inside the boot test's private
 * network namespace (loopback only: nothing here can reach, or be reached from, any other address).
 *
 *   - HTTPS on 127.0.0.1:443 (names mapped by the guest's /etc/hosts, certificate from a throwaway CA in the guest's
 *     trust store): S3 HeadObject/GetObject (ETag = MD5 of the body, If-Match → 412), SSM GetParameter, and every
 *     release URL (`https://<host>/<path>` → <state>/releases/<host>/<path>);
 *   - HTTP on 169.254.169.254:80: IMDSv2 (token, instance-role credentials). It deliberately does NOT answer the
 *     region (placement/*): the host must take its region from bootstrap.json, as the AWS CLI does on EC2 when
 *     AWS_REGION is set, so a region that never reaches `aws` fails here instead of being papered over.
 *
 * It keeps no state of its own: every request reads <state>/objects/<bucket>/<key>, <state>/deny.json (actions
 * answered with AccessDenied, e.g. ["s3:GetObject"]) and <state>/params.json, so the test changes the "cloud" by
 * writing files. Every request is appended to <state>/requests.jsonl (method, host, path, action, signing region).
 *
 * Usage (run by tests/boot/host.ts inside the namespace): tsx tests/boot/fake-aws.ts <state dir> <cert> <key>
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";

const [stateDir, certFile, keyFile] = process.argv.slice(2);
if (!stateDir || !certFile || !keyFile) {
  console.error("usage: fake-aws <state dir> <cert> <key>");
  process.exit(2);
}

function readJson<T>(name: string, fallback: T): T {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, name), "utf8")) as T;
  } catch {
    return fallback;
  }
}

function record(entry: Record<string, unknown>): void {
  fs.appendFileSync(path.join(stateDir, "requests.jsonl"), `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
}

/** The region the request was signed for (SigV4 credential scope), to prove the host's region reached `aws`. */
function signingRegion(req: http.IncomingMessage): string | undefined {
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ""));
  return m?.[1];
}

function body(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (s += c));
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });
}

function denied(action: string): boolean {
  return readJson<string[]>("deny.json", []).includes(action);
}

const s3Error = (res: http.ServerResponse, status: number, code: string, message: string, head: boolean) => {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(head ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
};

async function s3(req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string): Promise<void> {
  const head = req.method === "HEAD";
  const action = "s3:GetObject";
  record({ service: "s3", method: req.method, bucket, key, region: signingRegion(req), ifMatch: req.headers["if-match"] });
  const bucketDir = path.join(stateDir, "objects", bucket);
  if (!fs.existsSync(bucketDir)) return s3Error(res, 404, "NoSuchBucket", "The specified bucket does not exist", head);
  if (denied(action)) return s3Error(res, 403, "AccessDenied", "Access Denied", head);
  const file = path.join(bucketDir, key);
  if (!file.startsWith(bucketDir + path.sep) || !fs.existsSync(file)) return s3Error(res, 404, "NoSuchKey", "The specified key does not exist.", head);
  const content = fs.readFileSync(file);
  const etag = `"${createHash("md5").update(content).digest("hex")}"`;
  const ifMatch = req.headers["if-match"];
  if (ifMatch && ifMatch !== etag) return s3Error(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", head);
  res.writeHead(200, {
    etag,
    "content-length": String(content.length),
    "content-type": "application/json",
    "last-modified": fs.statSync(file).mtime.toUTCString(),
    "accept-ranges": "bytes",
  });
  res.end(head ? undefined : content);
}

async function ssm(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const target = String(req.headers["x-amz-target"] ?? "");
  const input = JSON.parse((await body(req)) || "{}") as { Name?: string };
  record({ service: "ssm", target, name: input.Name, region: signingRegion(req) });
  const reply = (status: number, doc: unknown) => {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
    res.end(JSON.stringify(doc));
  };
  if (target !== "AmazonSSM.GetParameter") return reply(400, { __type: "UnknownOperationException", message: target });
  const [name, version] = String(input.Name ?? "").split(":");
  if (denied("ssm:GetParameter")) {
    return reply(400, {
      __type: "AccessDeniedException",
      message: `User: arn:aws:sts::123456789012:assumed-role/monitoring-host/i-0boottest is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:${signingRegion(req)}:123456789012:parameter${name} because no identity-based policy allows the ssm:GetParameter action`,
    });
  }
  const params = readJson<Record<string, string>>("params.json", {});
  if (!(name in params)) return reply(400, { __type: "ParameterNotFound", message: "" });
  reply(200, { Parameter: { Name: name, Type: "SecureString", Value: params[name], Version: Number(version ?? 1), ARN: `arn:aws:ssm:::parameter${name}`, DataType: "text" } });
}

function release(req: http.IncomingMessage, res: http.ServerResponse, host: string, urlPath: string): void {
  const root = path.join(stateDir, "releases");
  const file = path.join(root, host, decodeURIComponent(urlPath));
  record({ service: "release", host, path: urlPath });
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404);
    res.end("Not Found");
    return;
  }
  res.writeHead(200, { "content-length": String(fs.statSync(file).size), "content-type": "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
}

const tls = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, (req, res) => {
  const host = String(req.headers.host ?? "").replace(/:\d+$/, "");
  const url = new URL(req.url ?? "/", `https://${host}`);
  let m: RegExpExecArray | null;
  const handle = async () => {
    if ((m = /^(.+)\.s3(?:\.[a-z0-9-]+)?\.amazonaws\.com$/.exec(host))) {
      return s3(req, res, m[1], decodeURIComponent(url.pathname.slice(1)));
    }
    if (/^s3(?:\.[a-z0-9-]+)?\.amazonaws\.com$/.test(host)) {
      const [, bucket, ...key] = url.pathname.split("/");
      return s3(req, res, bucket, decodeURIComponent(key.join("/")));
    }
    if (/^ssm\.[a-z0-9-]+\.amazonaws\.com$/.test(host)) return ssm(req, res);
    return release(req, res, host, url.pathname);
  };
  handle().catch((e: Error) => {
    res.writeHead(500);
    res.end(String(e.message));
  });
});

const imds = http.createServer((req, res) => {
  const p = (req.url ?? "/").replace(/\/+$/, "");
  record({ service: "imds", method: req.method, path: p });
  const send = (status: number, text: string) => {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(text);
  };
  if (req.method === "PUT" && p === "/latest/api/token") return send(200, "boot-test-imds-token");
  if (req.headers["x-aws-ec2-metadata-token"] !== "boot-test-imds-token") return send(401, "");
  if (p === "/latest/meta-data/iam/security-credentials") return send(200, "monitoring-host");
  if (p === "/latest/meta-data/iam/security-credentials/monitoring-host") {
    return send(
      200,
      JSON.stringify({
        Code: "Success",
        LastUpdated: new Date().toISOString(),
        Type: "AWS-HMAC",
        AccessKeyId: "ASIABOOTTESTEXAMPLE0",
        SecretAccessKey: "boot-test-secret-access-key-not-a-secret",
        Token: "boot-test-session-token",
        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
      }),
    );
  }
  if (p === "/latest/meta-data/instance-id") return send(200, "i-0boottest");
  send(404, "");
});

tls.listen(443, "127.0.0.1", () => {
  imds.listen(80, "169.254.169.254", () => {
    fs.writeFileSync(path.join(stateDir, "ready"), `${process.pid}\n`);
  });
});
const stop = () => {
  tls.close();
  imds.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
