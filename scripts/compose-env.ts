import { generateKeyPairSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { generateVAPIDKeys } from "web-push";

/**
 * Writes the .env of the docker-compose stack from .env.example: every CHANGE_ME becomes a
 * fresh random secret (the URLs that embed a password get the same one) and an Ed25519
 * key pair for the access tokens is generated. No stack starts with a shared default
 * secret (security.md line 17).
 *
 *   npx tsx scripts/compose-env.ts [--force] [--template FILE] [target]
 *
 * target defaults to .env, the template to .env.example; the k8s dev overlay's Secret uses
 * --template k8s/overlays/dev/secrets.env.example k8s/overlays/dev/secrets.env.
 */

const PLACEHOLDER = "CHANGE_ME";

/** URL variables and the credential variable whose secret they embed. */
const URL_SECRETS: Record<string, string> = {
  TRANSPORTER: "NATS_PASSWORD",
  CACHER: "REDIS_PASSWORD",
  REDIS_URL: "REDIS_PASSWORD",
  DATABASE_URL: "POSTGRES_PASSWORD",
  CONTENT_MONGO_URI: "MONGO_PASSWORD",
  AMQP_URL: "RABBITMQ_PASSWORD",
};

function secret(): string {
  // Hex: safe inside URLs, shell words and YAML without quoting.
  return randomBytes(24).toString("hex");
}

function oneLinePem(pem: string): string {
  return pem.trim().replace(/\n/g, "\\n");
}

export function composeEnv(template: string): string {
  const secrets = new Map<string, string>();
  const secretFor = (name: string): string => {
    let value = secrets.get(name);
    if (value === undefined) {
      value = secret();
      secrets.set(name, value);
    }
    return value;
  };
  const { privateKey, publicKey } = generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const vapid = generateVAPIDKeys();
  return template
    .split("\n")
    .map(line => {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!match) return line;
      const [, name, value] = match;
      if (name === "JWT_PRIVATE_KEY") return `${name}=${oneLinePem(privateKey)}`;
      if (name === "JWT_PUBLIC_KEY") return `${name}=${oneLinePem(publicKey)}`;
      if (name === "VAPID_PUBLIC_KEY") return `${name}=${vapid.publicKey}`;
      if (name === "VAPID_PRIVATE_KEY") return `${name}=${vapid.privateKey}`;
      if (!value.includes(PLACEHOLDER)) return line;
      return `${name}=${value.split(PLACEHOLDER).join(secretFor(URL_SECRETS[name] ?? name))}`;
    })
    .join("\n");
}

function main(argv: string[]): void {
  const force = argv.includes("--force");
  const templateAt = argv.indexOf("--template");
  const templateFile =
    templateAt >= 0 ? argv[templateAt + 1] : path.join(__dirname, "..", ".env.example");
  if (templateFile === undefined) {
    console.error("--template needs a file");
    process.exit(1);
  }
  const positional = argv.filter(
    (arg, index) => !arg.startsWith("--") && (templateAt < 0 || index !== templateAt + 1),
  );
  const target = path.resolve(positional[0] ?? ".env");
  if (fs.existsSync(target) && !force) {
    console.error(
      `${target} exists; keep it, or run again with --force to replace every secret in it`,
    );
    process.exit(1);
  }
  const template = fs.readFileSync(templateFile, "utf8");
  fs.writeFileSync(target, composeEnv(template), { mode: 0o600 });
  console.log(
    `wrote ${target} (fresh secrets and JWT key pair); next: docker compose up -d --build`,
  );
}

if (require.main === module) main(process.argv.slice(2));
