#!/usr/bin/env bash
# holdfast's copy of the IPVS VM recipe (originally from the project's lab
# notes), used by the kernel tests through holdfast_tests::vm.
# run-in-ipvs-vm.sh — run a command inside a throw-away QEMU VM whose kernel has IPVS.
#
# Why: the CI/dev host kernel may have no IPVS (CONFIG_IP_VS not set), so a
# daemon that programs IPVS over generic netlink ("IPVS" family) cannot be
# tested there. This script boots Debian's stock *cloud* kernel (IPVS, veth,
# bridge, netfilter ... all as modules) with a tiny busybox initramfs, runs
# your command as root (PID-1's child) inside it, and hands back the
# command's output and exit code. Boot-to-poweroff: ~7 s with TCG (measured,
# 2-core host), no KVM needed.
#
# Usage:
#   run-in-ipvs-vm.sh [options] [--] COMMAND [ARG...]
#   run-in-ipvs-vm.sh --setup            # only install deps + build the cache
#
#   One argument is run as a shell script line (`sh -c`); several arguments
#   are quoted and run as one command. The command runs in /payload inside
#   the guest with PATH covering busybox, ipvsadm, iproute2 (ip, ss).
#
# Options:
#   --copy SRC[:DST]  copy a host file/dir into the guest (default DST:
#                     /payload/<basename SRC>). ELF executables get their
#                     shared libraries (from ldd) copied too. Repeatable.
#   --mem MB          guest RAM (default 512; payload lives in RAM too)
#   --cpus N          guest vCPUs (default: host CPUs, max 4)
#   --timeout SEC     kill the VM after SEC seconds (default 600) -> exit 124
#   --no-kvm          force TCG software emulation
#   --kvm             force KVM (default: KVM only when /dev/kvm is usable
#                     and backed by kvm_intel/kvm_amd, else TCG)
#   --console         also print the guest kernel console log at the end
#   --setup           install deps and build kernel/initramfs cache, then exit
#
# Environment:
#   IPVS_VM_CACHE       cache dir (default /var/cache/ipvs-vm)
#   IPVS_VM_KERNEL_PKG  Debian kernel package to use (default: whatever
#                       linux-image-cloud-amd64 depends on)
#   IPVS_VM_ACCEL       auto (default) | kvm | tcg
#   IPVS_VM_CONSOLE_LOG where the guest kernel console goes
#                       (default $IPVS_VM_CACHE/last-console.log)
#   IPVS_VM_EXTRA_BINS  space-separated host executables to add to the base
#                       image (with their libs), e.g. "/usr/bin/tcpdump"
#
# Exit status: the command's exit status; 124 on timeout; 125 when the VM
# did not report a status (crash/panic; see console log path printed).
#
# Guest facts: the root fs is the initramfs (tmpfs-like, no pivot_root);
# /proc /sys /dev /dev/pts /tmp /run are mounted; `lo` is up; there is no NIC
# (use veth pairs in network namespaces); ip_vs (+nf_conntrack), ip_vs_rr,
# ip_vs_wrr, veth and bridge are pre-loaded and any other networking module
# autoloads via busybox modprobe (e.g. the kernel's own
# request_module("ip_vs_sh") when a service asks for scheduler "sh").
set -euo pipefail

# ----------------------------------------------------------------- settings
CACHE=${IPVS_VM_CACHE:-/var/cache/ipvs-vm}
MEM=512
CPUS=$(nproc); (( CPUS > 4 )) && CPUS=4
TIMEOUT=600
ACCEL=${IPVS_VM_ACCEL:-auto}    # auto | kvm | tcg
SHOW_CONSOLE=0
SETUP_ONLY=0
COPIES=()

# Modules loaded at boot (their dependencies come along automatically).
# Everything else in the image autoloads on first use through the kernel's
# request_module() -> /sbin/modprobe (busybox): other IPVS schedulers
# ("ipvsadm -s sh"), vxlan/ipvlan/macvlan/dummy links, nf_tables, ...
# Each module costs ~0.07 s under TCG, so keep this list short.
BOOT_MODULES="ip_vs ip_vs_rr ip_vs_wrr veth bridge"

log() { printf '[ipvs-vm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- arguments
while (( $# )); do
  case $1 in
    --copy)    COPIES+=("$2"); shift 2 ;;
    --mem)     MEM=$2; shift 2 ;;
    --cpus)    CPUS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --no-kvm)  ACCEL=tcg; shift ;;
    --kvm)     ACCEL=kvm; shift ;;
    --console) SHOW_CONSOLE=1; shift ;;
    --setup)   SETUP_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --)        shift; break ;;
    -*)        die "unknown option $1" ;;
    *)         break ;;
  esac
done
(( SETUP_ONLY || $# )) || die "no command given (see --help)"
[[ $(id -u) == 0 ]] || die "must run as root (apt-get, building the image)"

# ------------------------------------------------------ 1. host packages
# qemu-system-x86: the VM; busybox-static: guest userland; ipvsadm + iproute2:
# copied into the guest with their libs; cpio/kmod: image + module deps.
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v ipvsadm >/dev/null || need_pkgs+=(ipvsadm)
command -v ip      >/dev/null || need_pkgs+=(iproute2)
command -v cpio    >/dev/null || need_pkgs+=(cpio)
command -v depmod  >/dev/null || need_pkgs+=(kmod)
if (( ${#need_pkgs[@]} )); then
  log "installing ${need_pkgs[*]}"
  apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install "${apt_opts[@]}" "${need_pkgs[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install "${apt_opts[@]}" "${need_pkgs[@]}" >&2; }
fi

# ------------------------------------------------------ 2. kernel (cached)
# Debian's cloud kernel: 27 MB .deb, IPVS + netfilter + veth as (uncompressed)
# modules, boots fast under QEMU. It is only unpacked, never installed.
mkdir -p "$CACHE"
if [[ -z ${IPVS_VM_KERNEL_PKG:-} ]]; then
  if [[ -f $CACHE/kernel-pkg ]]; then
    IPVS_VM_KERNEL_PKG=$(<"$CACHE/kernel-pkg")
  else
    IPVS_VM_KERNEL_PKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
      awk '/Depends: linux-image-/ {print $2; exit}') || true
    if [[ -z $IPVS_VM_KERNEL_PKG ]]; then
      apt-get update -q >&2
      IPVS_VM_KERNEL_PKG=$(apt-cache depends linux-image-cloud-amd64 |
        awk '/Depends: linux-image-/ {print $2; exit}')
    fi
    [[ -n $IPVS_VM_KERNEL_PKG ]] || die "cannot resolve linux-image-cloud-amd64"
    echo "$IPVS_VM_KERNEL_PKG" > "$CACHE/kernel-pkg"
  fi
fi
KDIR=$CACHE/$IPVS_VM_KERNEL_PKG
if [[ ! -f $KDIR/.done ]]; then
  log "downloading + unpacking $IPVS_VM_KERNEL_PKG"
  rm -rf "$KDIR"; mkdir -p "$KDIR/dl"
  chown _apt "$KDIR/dl" 2>/dev/null || true   # apt-get download drops to _apt
  (cd "$KDIR/dl" && apt-get download -q "$IPVS_VM_KERNEL_PKG" >&2) ||
    { apt-get update -q >&2 && (cd "$KDIR/dl" && apt-get download -q "$IPVS_VM_KERNEL_PKG" >&2); }
  dpkg -x "$KDIR"/dl/*.deb "$KDIR/root"
  rm -rf "$KDIR/dl"
  touch "$KDIR/.done"
fi
KV=$(ls "$KDIR/root/lib/modules")
VMLINUZ=$KDIR/root/boot/vmlinuz-$KV
MODROOT=$KDIR/root/lib/modules/$KV

# -------------------------------------------- helpers for building cpio trees
# copy_with_libs SRC DEST_ROOT DEST_PATH: copy a file; if it is a dynamic ELF
# executable also copy the shared libraries ldd reports (same paths).
copy_with_libs() {
  local src=$1 root=$2 dst=$3 lib
  mkdir -p "$root/$(dirname "$dst")"
  cp -aL "$src" "$root/$dst"
  if [[ -f $src && -x $src ]] && ldd "$src" >/dev/null 2>&1; then
    for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
      [[ -e $root$lib ]] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  fi
}
# make_cpio DIR OUT: newc cpio archive of DIR, owned by root.
make_cpio() { (cd "$1" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) > "$2"; }

# ------------------------------------------ 3. base initramfs (cached)
# Rebuilt when this script, the kernel or the extra bins change.
base_key=$( { sed -n '/^# -* helpers for building/,/^# -* 4\. per-run/p' "$0"
             echo "$KV ${IPVS_VM_EXTRA_BINS:-} $BOOT_MODULES"; } | sha256sum | cut -c1-16)
BASE=$CACHE/base-$KV-$base_key.cpio
if [[ ! -f $BASE ]]; then
  log "building base initramfs $BASE"
  rm -f "$CACHE"/base-*.cpio      # drop images built by older script versions
  R=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,payload,lib64,root}
  mkdir -p "$R/var"; ln -s ../run "$R/var/run"   # ip netns uses /var/run/netns

  # /bin/sh is the host's dash, not busybox ash: Debian's static busybox ash
  # prefers its own applets over $PATH, so `ip netns ...` in a script would
  # hit the netns-less busybox `ip`. bash is there too for test scripts.
  copy_with_libs "$(readlink -f /bin/dash)" "$R" /bin/sh
  copy_with_libs "$(readlink -f /bin/bash)" "$R" /bin/bash
  # busybox applets as symlinks in /bin (host tools in /usr/* win via PATH)
  cp /bin/busybox "$R/bin/busybox"
  for a in $(/bin/busybox --list); do
    [[ -e $R/bin/$a ]] || ln -s busybox "$R/bin/$a"
  done
  ln -sf ../bin/busybox "$R/sbin/modprobe"   # kernel's request_module() helper

  # real ipvsadm / ip / ss (busybox's ip lacks netns) + extra tools
  for b in "$(command -v ipvsadm)" "$(command -v ip)" "$(command -v ss)" \
           ${IPVS_VM_EXTRA_BINS:-}; do
    copy_with_libs "$b" "$R" "/usr/sbin/$(basename "$b")"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/" 2>/dev/null || true

  # kernel modules: the networking subtrees a load-balancer test may touch
  # (netfilter/IPVS, ipv4/6, bridge, sched, vlan ...) + a few virtual NIC
  # drivers, plus whatever they depend on; depmod then writes modules.dep so
  # busybox modprobe (and the kernel's request_module) can load them.
  mkdir -p "$R/lib/modules/$KV"
  cp "$MODROOT"/modules.builtin* "$MODROOT"/modules.order "$R/lib/modules/$KV/"
  depmod -b "$KDIR/root" "$KV"
  mods=$( { for d in netfilter ipv4 ipv6 bridge sched 8021q llc 802 core packet \
                     key xfrm unix netlink; do
              [[ -d $MODROOT/kernel/net/$d ]] && find "$MODROOT/kernel/net/$d" -name '*.ko*'
            done
            for m in veth dummy macvlan ipvlan vxlan geneve tun bonding; do
              find "$MODROOT/kernel/drivers/net" -name "$m.ko*"; done; } |
          sed 's#.*/##; s#\.ko.*##')
  for m in $mods; do
    modprobe -d "$KDIR/root" -S "$KV" --show-depends "$m" 2>/dev/null |
      awk '$1=="insmod" {print $2}'
  done | sort -u | while read -r f; do
    rel=${f#"$MODROOT"/}
    mkdir -p "$R/lib/modules/$KV/$(dirname "$rel")"
    cp "$f" "$R/lib/modules/$KV/$rel"
  done
  depmod -b "$R" "$KV"

  cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/:/bin/false
EOF
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$R/etc/hosts"
  echo "$BOOT_MODULES" | tr -s ' \n' '\n\n' | sed '/^$/d' > "$R/etc/boot-modules"

  # /init: PID 1. Output of the user command goes to ttyS1, its exit code to
  # ttyS2; the kernel console (ttyS0) is kept in a log file on the host.
  cat > "$R/init" <<'EOF'
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run && mkdir -p /run/netns
mount -t tmpfs tmpfs /dev/shm
hostname ipvs-vm
stty -F /dev/ttyS1 raw -echo 2>/dev/null
stty -F /dev/ttyS2 raw -echo 2>/dev/null
while read -r m; do modprobe "$m" || echo "ipvs-vm: modprobe $m failed" >/dev/ttyS1; done </etc/boot-modules
ip link set lo up
cd /payload
echo "ipvs-vm: running /payload/.cmd.sh"
sh /payload/.cmd.sh </dev/null >/dev/ttyS1 2>&1
rc=$?
echo "ipvs-vm: exit code $rc"
echo "$rc" >/dev/ttyS2
sync
poweroff -f
EOF
  chmod 755 "$R/init"
  # Uncompressed: ~25 MB on disk but unpacks ~0.6 s faster under TCG than
  # gzip, and uncompressed archives can simply be concatenated.
  make_cpio "$R" "$BASE.tmp" && mv "$BASE.tmp" "$BASE"
  rm -rf "$R"
fi
(( SETUP_ONLY )) && { log "cache ready: $VMLINUZ $BASE"; exit 0; }

# ------------------------------------------ 4. per-run payload + initrd
# The kernel unpacks concatenated cpio archives in order, so the payload is
# simply appended to the cached base image. (Both are uncompressed: an
# uncompressed archive *after* a gzip one is rejected as "invalid magic".)
RUN=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
P=$RUN/payload-root; mkdir -p "$P/payload"
for c in "${COPIES[@]}"; do
  src=${c%%:*}; dst=${c#*:}; [[ $c == *:* ]] || dst=/payload/$(basename "$src")
  [[ -e $src ]] || die "--copy: $src does not exist"
  if [[ -d $src ]]; then
    mkdir -p "$P$dst"; cp -aL "$src/." "$P$dst/"
  else
    copy_with_libs "$src" "$P" "$dst"
  fi
done
if (( $# == 1 )); then
  printf '%s\n' "$1" > "$P/payload/.cmd.sh"
else
  for a in "$@"; do printf "'%s' " "${a//\'/\'\\\'\'}"; done > "$P/payload/.cmd.sh"
  echo >> "$P/payload/.cmd.sh"
fi
make_cpio "$P" "$RUN/payload.cpio"
cat "$BASE" "$RUN/payload.cpio" > "$RUN/initrd"

# ------------------------------------------ 5. boot
# auto: KVM only with a hardware-assisted KVM (kvm_intel/kvm_amd). Hosts that
# are themselves sandboxed VMs may offer /dev/kvm via "kvm_pvm" (paravirtual
# nested KVM): there a stock kernel crawls (>4 min, no console output) and
# then dies with "KVM internal error. Suberror: 1 / emulation failure" on a
# cmpxchg16b, so TCG (~7 s per boot) is the right choice.
if [[ $ACCEL == auto ]]; then
  if [[ -r /dev/kvm && -w /dev/kvm ]] &&
     [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
    ACCEL=kvm
  else
    ACCEL=tcg
  fi
fi
if [[ $ACCEL == kvm ]]; then accel=(-accel kvm -cpu host); else accel=(-accel tcg -cpu max); fi
: > "$RUN/rc"
CONSOLE_LOG=${IPVS_VM_CONSOLE_LOG:-$CACHE/last-console.log}
log "booting $KV ($ACCEL, ${CPUS} vCPU, ${MEM} MiB)"
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
  "${accel[@]}" -smp "$CPUS" -m "$MEM" \
  -nodefaults -no-user-config -display none -no-reboot -nic none \
  -kernel "$VMLINUZ" -initrd "$RUN/initrd" \
  -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init" \
  -serial "file:$CONSOLE_LOG" \
  -chardev stdio,id=out,signal=off -serial chardev:out \
  -serial "file:$RUN/rc" </dev/null
qrc=$?
set -e
(( SHOW_CONSOLE )) && { log "---- guest console ----"; cat "$CONSOLE_LOG" >&2; }
if (( qrc == 124 || qrc == 137 )); then log "timeout after ${TIMEOUT}s"; exit 124; fi
rc=$(tr -dc '0-9' < "$RUN/rc")
if [[ -z $rc ]]; then
  log "VM exited (qemu rc=$qrc) without reporting a status; console: $CONSOLE_LOG"
  exit 125
fi
exit "$rc"
