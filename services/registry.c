/* SPDX-License-Identifier: Apache-2.0 */
/* The table of registered services (see services.h). */
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/services/tasks/v1/tasks.pb-c.h"
#include "services/services.h"

/* Services of the API whose handlers have not landed yet: every call is UNIMPLEMENTED. */
#define PENDING(var, d) static const struct berth_service var = {&(d), NULL, 0}

static const struct berth_service *const all[] = {
    &berth_svc_version,  &berth_svc_introspection, &berth_svc_namespaces, &berth_svc_containers,
    &berth_svc_content,  &berth_svc_diff,          &berth_svc_events,     &berth_svc_images,
    &berth_svc_leases,   &berth_svc_snapshots,     &berth_svc_tasks,      &berth_svc_gc,
    &berth_svc_transfer, &berth_svc_cri_runtime,   &berth_svc_cri_image,  &berth_svc_health,
    &berth_svc_fsck,
};

size_t berth_services_all(const struct berth_service *const **out)
{
    *out = all;
    return BERTH_N(all);
}
