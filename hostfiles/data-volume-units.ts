/**
 * The data volume's mount unit and its device timeout: written by user data (they depend only on the volume id),
 * so systemd mounts the volume at every boot by its by-id device.
 */
import { DATA_DEVICE_TIMEOUT, DATA_MOUNT, dataVolumeDevice } from "../layout/host-layout";
import { systemdEscapePath, UNIT_DIR } from "./systemd-unit";
import { renderTemplate, SYSTEMD_DIR } from "./templates";

/** The data volume's mount unit: mounted by systemd at every boot, by the volume's by-id device. */
export const DATA_MOUNT_UNIT = systemdEscapePath(DATA_MOUNT, "mount");

/**
 * The data volume's mount unit and its device's timeout, by volume id (user data writes them: they depend only on
 * the volume). A unit file rather than an fstab line: systemd in a container ignores fstab lines of block devices,
 * so the boot test could not show the mount; the unit is what fstab's generator would write.
 */
export function dataVolumeUnits(volumeId: string): { path: string; content: string }[] {
  const device = dataVolumeDevice(volumeId);
  const header = "From user data (hostfiles/data-volume-units.ts).";
  return [
    {
      path: `${UNIT_DIR}/${DATA_MOUNT_UNIT}`,
      content: renderTemplate("data-volume.mount.hbs", { header, volumeId, device, mountPoint: DATA_MOUNT }, SYSTEMD_DIR),
    },
    {
      path: `${UNIT_DIR}/${systemdEscapePath(device, "device")}.d/50-monitoring-host.conf`,
      content: renderTemplate("device-timeout.conf.hbs", { header, timeout: DATA_DEVICE_TIMEOUT }, SYSTEMD_DIR),
    },
  ];
}

