//! The Linux IPVS generic-netlink client and the reconciler that converges
//! the kernel's virtual-server table to holdfast's desired state.
