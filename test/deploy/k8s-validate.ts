/**
 * Validates Kubernetes objects (a JSON array on stdin) against the API's JSON schemas as
 * shipped by kubernetes-models (core APIs) and @kubernetes-models/prometheus-operator
 * (PodMonitor, PrometheusRule). Prints a JSON array of problems; an unknown kind is a problem.
 *
 * Run as a child process by k8s.spec.ts: the prometheus-operator models are ES modules only,
 * which Jest's CommonJS runtime cannot load but tsx on Node 24 can.
 */
interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}
interface Problem {
  object: string;
  error: string;
}
type ModelClass = new (data: unknown) => { validate(): void };

async function modelsFor(apiVersion: string): Promise<Record<string, unknown>> {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return (await import(`@kubernetes-models/prometheus-operator/${apiVersion}`)) as Record<
      string,
      unknown
    >;
  }
  return (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
}

async function validateAll(objects: KubeObject[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const object of objects) {
    const label = `${object.kind ?? "?"}/${object.metadata?.name ?? "?"}`;
    try {
      const models = await modelsFor(object.apiVersion ?? "");
      const Model = models[object.kind ?? ""] as ModelClass | undefined;
      if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
      new Model(object).validate();
    } catch (err) {
      problems.push({ object: label, error: (err as Error).message });
    }
  }
  return problems;
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const objects = JSON.parse(Buffer.concat(chunks).toString("utf8")) as KubeObject[];
  process.stdout.write(JSON.stringify(await validateAll(objects)));
}

void main();
