// The container a checkpoint archive was taken of, from the files its engine put beside the CRIU
// images: config.dump (the engine's own container config: Podman's libpod config, CRI-O's
// container state) and spec.dump (the OCI runtime spec, with the process's command and
// environment, and annotations that name the engine and, under Kubernetes, the pod). Whatever
// is missing or malformed is left empty: these files are the engine's, not CRIU's.

export interface ContainerInfo {
  engine: string;
  name: string;
  id: string;
  image: string;
  runtime: string;
  /** ISO 8601, as the engine recorded it. */
  created: string;
  /** The OCI spec's process: its command, environment and working directory. */
  command: string[];
  env: string[];
  cwd: string;
  hostname: string;
  /** Kubernetes: the pod and its namespace, when the engine recorded them. */
  pod?: string;
  namespace?: string;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Parses a JSON file of the engine; undefined when it is not JSON (a damaged or foreign file). */
export function parseEngineJson(bytes: Uint8Array | undefined): Json | undefined {
  if (!bytes) return undefined;
  try {
    return obj(JSON.parse(Buffer.from(bytes).toString('utf8')));
  } catch {
    return undefined;
  }
}

/** What config.dump and spec.dump say; undefined when neither is there. */
export function containerInfo(config: Json | undefined, spec: Json | undefined): ContainerInfo | undefined {
  if (!config && !spec) return undefined;
  const c = config ?? {};
  const s = spec ?? obj(c.spec);
  const ann = obj(s.annotations);
  const process = obj(s.process);
  const manager = str(ann['io.container.manager']);
  const k8s = (key: string) => str(ann[`io.kubernetes.${key}`]);
  let engine = 'unknown engine';
  if (manager === 'libpod' || 'RawImageName' in c || 'rootfsImageName' in c) engine = 'Podman';
  else if (manager === 'cri-o' || k8s('cri-o.ContainerID')) engine = 'CRI-O';
  else if (k8s('cri.container-type') || str(ann['io.kubernetes.cri.sandbox-id'])) engine = 'containerd';
  const pod = k8s('pod.name');
  return {
    engine,
    name: str(c.name) || k8s('container.name') || k8s('cri-o.ContainerName') || k8s('cri.container-name'),
    id: str(c.id) || k8s('cri-o.ContainerID'),
    image: str(c.rootfsImageName) || str(c.RawImageName) || str(c.rootfsImageRef) || k8s('cri-o.ImageName') || k8s('cri.image-name') || str(c.image),
    runtime: str(c.runtime) || str(c.OCIRuntime) || str(c.ociRuntime),
    created: str(c.createdTime) || str(c.created) || k8s('cri-o.Created'),
    command: strs(process.args).length ? strs(process.args) : strs(c.command),
    env: strs(process.env),
    cwd: str(process.cwd),
    hostname: str(s.hostname),
    ...(pod ? { pod } : {}),
    ...(k8s('pod.namespace') ? { namespace: k8s('pod.namespace') } : {}),
  };
}
