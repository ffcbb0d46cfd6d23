/** The root and data volumes: sizes, and the data volume's gp3 IOPS and throughput within what gp3 allows. */
import type { ConfigProblems } from "../config-problems";
import { GP3, MAX_VOLUME_GIB, MIN_DATA_VOLUME_GIB, MIN_ROOT_VOLUME_GIB } from "../limits";
import type { Reader } from "../reader";

export function readVolumes(r: Reader, p: ConfigProblems, k: (key: string) => string) {
  const rootVolumeSizeGiB = r.integer("rootVolumeSizeGiB", MIN_ROOT_VOLUME_GIB, MAX_VOLUME_GIB);
  const dataVolume = {
    sizeGiB: r.integer("dataVolumeSizeGiB", MIN_DATA_VOLUME_GIB, MAX_VOLUME_GIB),
    iops: r.integer("dataVolumeIops", GP3.minIops, GP3.maxIops),
    throughputMiBps: r.integer("dataVolumeThroughputMiBps", GP3.minThroughput, GP3.maxThroughput),
  };
  if (dataVolume.sizeGiB !== undefined && dataVolume.iops !== undefined && dataVolume.iops > dataVolume.sizeGiB * GP3.iopsPerGiB) {
    p.add(
      k("dataVolumeIops"),
      `${dataVolume.iops} is more than gp3 allows for ${dataVolume.sizeGiB} GiB (${GP3.iopsPerGiB} IOPS per GiB: at most ${dataVolume.sizeGiB * GP3.iopsPerGiB}); ` +
        `lower it or raise dataVolumeSizeGiB to at least ${Math.ceil(dataVolume.iops / GP3.iopsPerGiB)}`,
    );
  }
  if (dataVolume.iops !== undefined && dataVolume.throughputMiBps !== undefined && dataVolume.throughputMiBps > dataVolume.iops * GP3.mibpsPerIops) {
    p.add(
      k("dataVolumeThroughputMiBps"),
      `${dataVolume.throughputMiBps} is more than gp3 allows for ${dataVolume.iops} IOPS (${GP3.mibpsPerIops} MiB/s per IOPS: at most ${Math.floor(dataVolume.iops * GP3.mibpsPerIops)}); ` +
        `lower it or raise dataVolumeIops to at least ${Math.ceil(dataVolume.throughputMiBps / GP3.mibpsPerIops)}`,
    );
  }
  return { rootVolumeSizeGiB, dataVolume };
}
