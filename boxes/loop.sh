# Loop-device helpers shared by the box recipes (sourced; bash).
#
# extlinux writes its boot sector through the loop device. On recent kernels
# `losetup -d` only schedules the detach, and the loop device's own page
# cache may not have reached the image file when the next command reads it:
# a copy made at once (the nossh variant) then had a zero boot sector and
# SeaBIOS said "Missing operating system". So: flush, detach, wait until the
# kernel no longer lists the file, and check the boot sector in the file.

# loop_attach FILE START_SECTOR BYTES: sets loopdev (and loopfile)
loop_attach() {
  loopfile=$1
  loopdev=$(losetup -f --show -o $(($2 * 512)) --sizelimit "$3" "$1")
}

# loop_detach: flushes and detaches $loopdev, waits until it is gone
loop_detach() {
  local i
  blockdev --flushbufs "$loopdev"
  losetup -d "$loopdev"
  for ((i = 0; i < 200; i++)); do
    [ -z "$(losetup -j "$loopfile")" ] && break
    sleep 0.05
  done
  if [ -n "$(losetup -j "$loopfile")" ]; then
    echo "boxes: $loopdev on $loopfile did not detach within 10 s" >&2
    return 1
  fi
  loopdev=
  sync -f "$loopfile"
}

# check_boot_sector FILE START_SECTOR: the partition's boot sector in the
# image file is extlinux's (a SYSLINUX label and the 55aa signature)
check_boot_sector() {
  local sig label
  sig=$(od -An -tx1 -j $(($2 * 512 + 510)) -N 2 "$1" | tr -d ' \n')
  label=$(dd if="$1" bs=1 skip=$(($2 * 512 + 3)) count=8 status=none)
  if [ "$sig" != 55aa ] || [ "$label" != SYSLINUX ]; then
    echo "boxes: $1 has no extlinux boot sector at sector $2 (signature '$sig')" >&2
    return 1
  fi
}
