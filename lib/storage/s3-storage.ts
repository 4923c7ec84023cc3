import type { Readable } from "node:stream";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { S3Config } from "../config";
import type { MediaStorage, StoredRange } from "./media-storage";

/** HEAD answers carry no error body, so a missing object is known by its status alone. */
function isMissing(err: unknown): boolean {
  return err instanceof NoSuchKey || (err as S3ServiceException).$metadata?.httpStatusCode === 404;
}

/** S3-compatible object storage (AWS S3, MinIO) through the AWS SDK. */
export class S3Storage implements MediaStorage {
  readonly kind = "s3" as const;
  private readonly client: S3Client;

  constructor(private readonly cfg: S3Config) {
    this.client = new S3Client({
      endpoint: cfg.endpoint,
      region: cfg.region,
      credentials: { accessKeyId: cfg.accessKey, secretAccessKey: cfg.secretKey },
      // MinIO and most self-hosted servers address buckets by path, not by subdomain.
      forcePathStyle: true,
    });
  }

  async start(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.cfg.bucket }));
    } catch (err) {
      const status = (err as S3ServiceException).$metadata?.httpStatusCode;
      if (status !== 404) throw err;
      await this.client.send(new CreateBucketCommand({ Bucket: this.cfg.bucket }));
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.cfg.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: body.length,
      }),
    );
  }

  async get(key: string, range?: StoredRange): Promise<{ body: Readable; size?: number } | null> {
    try {
      const answer = await this.client.send(
        new GetObjectCommand({
          Bucket: this.cfg.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return { body: answer.Body as Readable, size: answer.ContentLength };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const answer = await this.client.send(
        new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: key }),
      );
      return { size: answer.ContentLength ?? 0 };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.cfg.bucket }));
  }

  async stop(): Promise<void> {
    this.client.destroy();
  }
}
