/* Private to providers/libvirt: the pure domain XML renderer, exposed so the
 * golden tests can call it without a hypervisor. */
#ifndef VMENV_LIBVIRT_DOMAIN_XML_H
#define VMENV_LIBVIRT_DOMAIN_XML_H

#include "vmenv/error.h"
#include "vmenv/provider.h"

/* The PCI slot on q35's pcie.0 that the <qemu:commandline> virtio-net device
 * takes. libvirt assigns its own devices from slot 0x01 upwards (root ports
 * at 0x01..0x07, 0x1f is the ICH9 LPC/SATA/SMBus function); 0x10 stays free
 * for any reasonable number of devices. */
#define VMENV_LIBVIRT_NET_SLOT "0x10"

/* The XML namespace of vmenv's element in <metadata>. */
#define VMENV_LIBVIRT_METADATA_NS "https://vmenv.dev/xmlns/domain/1"

/* The first libvirt version with <interface type='user'><backend type='passt'/>
 * and <portForward>. */
#define VMENV_LIBVIRT_PASST_VERSION 9002000UL

/* Renders the domain XML for spec. host decides between native passt
 * forwarding and the <qemu:commandline> fallback (NULL: the fallback).
 * Pure: no I/O, same input gives the same bytes. Returns NULL and fills err
 * on invalid input (bad port, host_ip not an IP literal, unknown mode). */
char *vmenv_libvirt_domain_xml(const struct vmenv_domain_spec *s,
                               const struct vmenv_host_info *host, vmenv_error *err);

/* Defines a domain from ready XML, validated against libvirt's schema. For
 * the golden tests (every expected XML must pass test:///default) and
 * define(). */
int vmenv_libvirt_define_xml(struct vmenv_provider *p, const char *name, const char *xml,
                             vmenv_error *err);

/* QEMU option values double every ',' so a value cannot start a new option. */
char *vmenv_libvirt_qemu_opt_escape(const char *s);

#endif
