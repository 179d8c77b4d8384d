import { describe, expect, it } from 'vitest';
import { cgroupPathOf, parseCgroupPath } from './cgroup';

const CID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe(parseCgroupPath.name, () => {
  it('reads pod UID and containerd id from the systemd driver layout', () => {
    const p = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/cri-containerd-${CID}.scope`;
    expect(parseCgroupPath(p)).toEqual({ path: p, podUid: '0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b', containerId: CID, runtime: 'containerd' });
  });

  it('reads CRI-O scopes and ignores conmon', () => {
    const p = `/kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/crio-${CID}.scope`;
    expect(parseCgroupPath(p)).toMatchObject({ containerId: CID, runtime: 'cri-o', podUid: '0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b' });
    expect(parseCgroupPath(`/kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/crio-conmon-${CID}.scope`).containerId).toBeUndefined();
  });

  it('reads the cgroupfs driver layout (bare id, dashed UID)', () => {
    const p = `/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/${CID}`;
    expect(parseCgroupPath(p)).toEqual({ path: p, podUid: '0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b', containerId: CID });
  });

  it('reads plain Docker containers', () => {
    expect(parseCgroupPath(`/system.slice/docker-${CID}.scope`)).toMatchObject({ containerId: CID, runtime: 'docker' });
    expect(parseCgroupPath(`/docker/${CID}`)).toMatchObject({ containerId: CID, runtime: 'docker' });
  });

  it('finds nothing in host cgroups', () => {
    expect(parseCgroupPath('/user.slice/user-0.slice/session-3.scope')).toEqual({ path: '/user.slice/user-0.slice/session-3.scope' });
    expect(parseCgroupPath('/')).toEqual({ path: '/' });
  });
});

describe(cgroupPathOf.name, () => {
  it('takes the v2 line, or the v1 line naming a container', () => {
    expect(cgroupPathOf('0::/system.slice/ssh.service\n')).toBe('/system.slice/ssh.service');
    const v1 = `12:pids:/docker/${CID}\n11:cpu,cpuacct:/docker/${CID}\n1:name=systemd:/docker/${CID}\n0::/\n`;
    expect(cgroupPathOf(v1)).toBe(`/docker/${CID}`);
    expect(cgroupPathOf('')).toBe('');
  });
});
