/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd 1.6's default seccomp profile (contrib/seccomp DefaultProfile) as an OCI
 * `linux.seccomp` object for the host architecture. libseccomp picks the native arch and
 * drops syscall names it cannot resolve for any of the profile's architectures.
 */
#ifndef BERTH_RUNTIME_OCI_SECCOMP_H
#define BERTH_RUNTIME_OCI_SECCOMP_H

#include <stdint.h>

#include <jansson.h> /* json_t in the API */

#include "lib/err.h"

/* Builds the profile for `spec` (borrowed): the capability-gated rules follow
 * process.capabilities.bounding, as containerd's do. BERTH_E_INVALID_ARGUMENT when spec is
 * not an object; BERTH_E_FAILED_PRECONDITION when libseccomp does not know the native
 * architecture. On success *out is a new reference owned by the caller. */
int berth_oci_seccomp_default_profile(const json_t *spec, json_t **out, struct berth_err **err);

/* "SCMP_ARCH_X86_64" etc. for a libseccomp SCMP_ARCH_* token, or NULL when unmapped. */
const char *berth_oci_seccomp_arch_name(uint32_t scmp_arch);

#endif
