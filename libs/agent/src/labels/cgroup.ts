/** What a process's cgroup path says about its container and Kubernetes pod. */
export interface CgroupInfo {
  /** The cgroup path (v2, or the most specific v1 hierarchy). */
  path: string;
  containerId?: string;
  runtime?: 'docker' | 'containerd' | 'cri-o';
  /** Kubernetes pod UID with dashes (the systemd driver writes underscores). */
  podUid?: string;
}

const ID = '[0-9a-f]{64}';
const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
const POD = new RegExp(`pod(${UID})(?:\\.slice)?$`);

/** Container scopes in order of precedence; the last path component that matches wins. */
const CONTAINER_PATTERNS: Array<[RegExp, CgroupInfo['runtime']]> = [
  [new RegExp(`^cri-containerd-(${ID})\\.scope$`), 'containerd'],
  [new RegExp(`^crio-(${ID})\\.scope$`), 'cri-o'],
  [new RegExp(`^docker-(${ID})\\.scope$`), 'docker'],
  [new RegExp(`^(${ID})$`), undefined], // cgroupfs driver / plain docker: the bare id
];

/**
 * Reads container id, runtime and pod UID from a cgroup path, for the systemd driver
 * (`kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`) and the cgroupfs driver
 * (`/kubepods/burstable/pod<uid>/<id>`), plus plain Docker (`/docker/<id>`,
 * `docker-<id>.scope`). `crio-conmon-*` (CRI-O's monitor) is not a container.
 */
export function parseCgroupPath(path: string): CgroupInfo {
  const info: CgroupInfo = { path };
  const parts = path.split('/').filter(Boolean);
  for (const part of parts) {
    const pod = POD.exec(part);
    if (pod) info.podUid = pod[1].replace(/_/g, '-');
    for (const [re, runtime] of CONTAINER_PATTERNS) {
      const m = re.exec(part);
      if (!m) continue;
      info.containerId = m[1];
      info.runtime = runtime ?? (parts.includes('docker') ? 'docker' : undefined);
      break;
    }
  }
  if (info.containerId && !info.runtime) delete info.runtime;
  return info;
}

/** Picks the path out of /proc/<pid>/cgroup: v2's `0::` line, else the v1 line naming a container. */
export function cgroupPathOf(procCgroup: string): string {
  const lines = procCgroup
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const a = l.indexOf(':');
      const b = l.indexOf(':', a + 1);
      return { controllers: l.slice(a + 1, b), path: l.slice(b + 1) };
    });
  const withContainer = lines.find((l) => parseCgroupPath(l.path).containerId);
  if (withContainer) return withContainer.path;
  return (lines.find((l) => l.controllers === '') ?? lines[0])?.path ?? '';
}
