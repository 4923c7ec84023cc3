import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  fakeUsersService,
  http,
  newSigningKey,
  signAccessToken,
  startServiceNode,
  TEST_PUBLIC_URL,
} from "./api-kit";

/**
 * GET and HEAD /media/:id over real HTTP, with byte ranges (iOS Safari plays audio only
 * through them): on the file store and on S3 (s3rver), the gateway and content on separate
 * nodes so the bytes cross the transporter as they do in a cluster.
 */

/** s3rver ships no types; the little of it this suite uses. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as S3rverClass;

/** A real (silent) 8 kHz mono 16-bit WAV file of `samples` samples, every byte position distinct enough to check slices. */
function wav(samples: number): Buffer {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < data.length; i += 1) data[i] = (i * 7 + (i >> 8)) & 0xff;
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8, "latin1");
  header.write("fmt ", 12, "latin1");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "latin1");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

const AUDIO = wav(10_000);
const SIZE = AUDIO.length;

const stores: Array<{ name: string; s3: boolean }> = [
  { name: "the file store", s3: false },
  { name: "S3", s3: true },
];

describe.each(stores)("media files on $name", ({ s3: useS3 }) => {
  let db: TestDatabase;
  let s3: S3rverServer | undefined;
  let users: ServiceBroker;
  let content: TestNode;
  let gateway: TestNode;
  let url: string;

  const get = (headers: Record<string, string> = {}) => fetch(url, { headers });
  const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

  beforeAll(async () => {
    db = await createTestDatabase("lm_media");
    const ns = uniqueName("media");
    const key = await newSigningKey();
    let storeEnv: Record<string, string> = {};
    if (useS3) {
      s3 = new S3rver({
        port: 0,
        address: "127.0.0.1",
        silent: true,
        directory: tempDataDir("s3rver"),
        configureBuckets: [{ name: "media", configs: [] }],
      });
      const { port } = await s3.run();
      storeEnv = {
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_BUCKET: "media",
        S3_ACCESS_KEY: "S3RVER",
        S3_SECRET_KEY: "S3RVER",
      };
    }
    const env = {
      ...clusterEnv(ns, db.url),
      ...storeEnv,
      PUBLIC_URL: TEST_PUBLIC_URL,
      DATA_DIR: tempDataDir("media"),
    };
    users = await startServiceNode(env, `${ns}-users`, [
      fakeUsersService({ keys: [key], jwksCalls: 0 }),
    ]);
    content = await startTestNode(["content"], { ...env, NODE_ID: `${ns}-content` });
    gateway = await startTestNode(["api"], { ...env, NODE_ID: `${ns}-gateway` });
    await gateway.broker.waitForServices(["users", "content"]);
    const form = new FormData();
    form.append("file", new Blob([AUDIO], { type: "audio/wav" }), "hello.wav");
    const upload = await http(`${gateway.apiUrl}/media`, {
      method: "POST",
      token: await signAccessToken(key, { sub: "author-1", roles: ["author"] }),
      body: form,
    });
    expect(upload.status).toBe(201);
    expect(upload.body).toMatchObject({ contentType: "audio/wav", size: SIZE });
    url = `${gateway.apiUrl}/media/${(upload.body as { id: string }).id}`;
  }, 90_000);

  afterAll(async () => {
    await gateway?.stop();
    await content?.stop();
    await users?.stop();
    await s3?.close();
    await db?.drop();
  }, 60_000);

  it("when the whole file is asked for, then it comes byte for byte and says it accepts ranges", async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-type")).toBe("audio/wav");
    expect(res.headers.get("content-length")).toBe(String(SIZE));
    expect((await bytesOf(res)).equals(AUDIO)).toBe(true);
  });

  it("when a byte range is asked for, then 206 answers exactly those bytes with Content-Range", async () => {
    const res = await get({ range: "bytes=100-1099" });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes 100-1099/${SIZE}`);
    expect(res.headers.get("content-length")).toBe("1000");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-type")).toBe("audio/wav");
    expect((await bytesOf(res)).equals(AUDIO.subarray(100, 1100))).toBe(true);
  });

  it("when Safari probes with bytes=0-1, asks for a suffix, an open end or past the end, then each answer is the right slice", async () => {
    const probe = await get({ range: "bytes=0-1" });
    expect(probe.status).toBe(206);
    expect(probe.headers.get("content-range")).toBe(`bytes 0-1/${SIZE}`);
    expect((await bytesOf(probe)).equals(AUDIO.subarray(0, 2))).toBe(true);

    const suffix = await get({ range: "bytes=-500" });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${SIZE - 500}-${SIZE - 1}/${SIZE}`);
    expect((await bytesOf(suffix)).equals(AUDIO.subarray(SIZE - 500))).toBe(true);

    const open = await get({ range: `bytes=${SIZE - 10}-` });
    expect(open.status).toBe(206);
    expect(open.headers.get("content-range")).toBe(`bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`);
    expect((await bytesOf(open)).equals(AUDIO.subarray(SIZE - 10))).toBe(true);

    const past = await get({ range: `bytes=${SIZE - 3}-${SIZE * 2}` });
    expect(past.status).toBe(206);
    expect(past.headers.get("content-range")).toBe(`bytes ${SIZE - 3}-${SIZE - 1}/${SIZE}`);
    expect(past.headers.get("content-length")).toBe("3");
    expect((await bytesOf(past)).equals(AUDIO.subarray(SIZE - 3))).toBe(true);
  });

  it("when the range starts past the end, then 416 says the size in Content-Range, in the contract's error shape", async () => {
    const res = await get({ range: `bytes=${SIZE}-` });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe(`bytes */${SIZE}`);
    expect(await res.json()).toMatchObject({
      code: 416,
      type: "RANGE_NOT_SATISFIABLE",
      data: { size: SIZE },
    });
  });

  it("when the Range header is malformed, names another unit or several ranges, or comes with If-Range, then the whole file is sent", async () => {
    const variants: Array<Record<string, string>> = [
      { range: "bytes=abc" },
      { range: "items=0-1" },
      { range: "bytes=0-1,10-20" },
      { range: "bytes=5-2" },
      { range: "bytes=0-1", "if-range": '"some-other-version"' },
    ];
    for (const headers of variants) {
      const res = await get(headers);
      expect([JSON.stringify(headers), res.status]).toEqual([JSON.stringify(headers), 200]);
      expect((await bytesOf(res)).equals(AUDIO)).toBe(true);
    }
  });

  it("when HEAD is asked, then the GET's headers come without a body; an unknown id is 404", async () => {
    const res = await fetch(url, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/wav");
    expect(res.headers.get("content-length")).toBe(String(SIZE));
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect((await bytesOf(res)).length).toBe(0);
    const unknown = await fetch(`${gateway.apiUrl}/media/does-not-exist`, { method: "HEAD" });
    expect(unknown.status).toBe(404);
  });
});
