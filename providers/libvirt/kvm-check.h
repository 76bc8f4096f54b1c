/* The KVM check (kvm-check.c) and the accelerator decision built on it. */
#ifndef VMENV_LIBVIRT_KVM_CHECK_H
#define VMENV_LIBVIRT_KVM_CHECK_H

#include "libvirt-private.h"

/* Test-only (docs/testing.md): the path of a QEMU wrapper. vmenv then
 * believes KVM works (the check counts as passed, unless a verdict is
 * cached) and renders type='kvm' domains as type='qemu' run by the wrapper. */
#define VMENV_TEST_KVM_WRAPPER "VMENV_TEST_KVM_WRAPPER"
/* Test-only: "1" runs the check as if the capabilities listed KVM, with its
 * guest under TCG (type='qemu'), and caches its verdict like a real one. */
#define VMENV_TEST_KVM_CHECK_TCG "VMENV_TEST_KVM_CHECK_TCG"
#define VMENV_KVM_CHECK_TIMEOUT_MS 10000
#define VMENV_KVM_CHECK_TCG_TIMEOUT_MS 20000

/* The check's firmware (generated from kvm-check-rom.S). */
const void *vmenv_libvirt_kvm_check_rom(size_t *len);

/* Runs rom in a transient domain of this type ("kvm", or "qemu" for TCG)
 * and waits up to timeout_ms for its pvpanic report. 1: reported; 0: the
 * guest stopped, QEMU exited or nothing came (*reason says which); -1: the
 * check could not be set up. */
int vmenv_libvirt_kvm_check_run(struct vmenv_provider *p, const char *type, const char *emulator,
                                const void *rom, size_t rom_len, int timeout_ms, char **reason,
                                vmenv_error *err);

/* Fills h->kvm, h->accel_reason and h->kvm_insisted from VMENV_KVM, the
 * capabilities and the (cached) check; an error when VMENV_KVM=1 and KVM
 * cannot run guests. h->hypervisor must be set. */
int vmenv_libvirt_accel(struct vmenv_provider *p, const char *caps, struct vmenv_host_info *h,
                        vmenv_error *err);
int vmenv_libvirt_kvm_mark_broken(struct vmenv_provider *p, const char *reason, vmenv_error *err);
/* Waits until the last check's domain is destroyed (done in the
 * background); provider_close() calls it. */
void vmenv_libvirt_kvm_check_wait(struct vmenv_provider *p);
/* The test hook's wrapper, or NULL. */
const char *vmenv_libvirt_test_kvm_wrapper(void);

#endif
