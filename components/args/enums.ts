/**
 * The literal choices of the component's arguments and outputs, each as a constant object and a type of the same
 * name: TypeScript users write the literal (`arch: "arm64"`) or the member (`Arch.Arm64`), and the component
 * provider's schema carries each as an enum for other languages.
 */

/** `arch`: the worker's arch as release artifacts name it, or `auto` to ask the worker. */
export const Arch = { Amd64: "amd64", Arm64: "arm64", Auto: "auto" } as const;
export type Arch = (typeof Arch)[keyof typeof Arch];

/** The `arch` output: the arch the worker's artifacts were installed for. */
export const WorkerArch = { Amd64: "amd64", Arm64: "arm64" } as const;
export type WorkerArch = (typeof WorkerArch)[keyof typeof WorkerArch];

/** The `cgroupDriver` output: the cgroup driver in effect, for the kubelet's `cgroupDriver`. */
export const CgroupDriver = { Systemd: "systemd", Cgroupfs: "cgroupfs" } as const;
export type CgroupDriver = (typeof CgroupDriver)[keyof typeof CgroupDriver];
