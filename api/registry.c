// SPDX-License-Identifier: Apache-2.0
// Static registries of generated descriptors (see registry.h). Message lookup is a
// linear scan over a few dozen entries, comparing against each descriptor's own
// fully-qualified name, so the table cannot drift from the .proto files.
#include "api/registry.h"

#include <string.h>

#include "api/cgroups/v1/metrics.pb-c.h"
#include "api/cgroups/v2/metrics.pb-c.h"
#include "api/events/container.pb-c.h"
#include "api/events/content.pb-c.h"
#include "api/events/image.pb-c.h"
#include "api/events/namespace.pb-c.h"
#include "api/events/sandbox.pb-c.h"
#include "api/events/snapshot.pb-c.h"
#include "api/events/task.pb-c.h"
#include "api/google/rpc/status.pb-c.h"
#include "api/runtime/runc/options/oci.pb-c.h"
#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/content/v1/content.pb-c.h"
#include "api/services/diff/v1/diff.pb-c.h"
#include "api/services/events/v1/events.pb-c.h"
#include "api/services/images/v1/images.pb-c.h"
#include "api/services/introspection/v1/introspection.pb-c.h"
#include "api/services/leases/v1/leases.pb-c.h"
#include "api/services/namespaces/v1/namespace.pb-c.h"
#include "api/services/sandbox/v1/sandbox.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/services/tasks/v1/tasks.pb-c.h"
#include "api/services/version/v1/version.pb-c.h"
#include "api/types/descriptor.pb-c.h"
#include "api/types/event.pb-c.h"
#include "api/types/introspection.pb-c.h"
#include "api/types/metrics.pb-c.h"
#include "api/types/mount.pb-c.h"
#include "api/types/platform.pb-c.h"
#include "api/types/sandbox.pb-c.h"
#include "api/types/task/task.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

const ProtobufCServiceDescriptor *const berth_api_services[] = {
    &containerd__services__containers__v1__containers__descriptor,
    &containerd__services__content__v1__content__descriptor,
    &containerd__services__diff__v1__diff__descriptor,
    &containerd__services__events__v1__events__descriptor,
    &containerd__services__images__v1__images__descriptor,
    &containerd__services__introspection__v1__introspection__descriptor,
    &containerd__services__leases__v1__leases__descriptor,
    &containerd__services__namespaces__v1__namespaces__descriptor,
    &containerd__services__sandbox__v1__store__descriptor,
    &containerd__services__sandbox__v1__controller__descriptor,
    &containerd__services__snapshots__v1__snapshots__descriptor,
    &containerd__services__tasks__v1__tasks__descriptor,
    &containerd__services__version__v1__version__descriptor,
    NULL,
};

static const ProtobufCMessageDescriptor *const any_payloads[] = {
    // events (containerd.events)
    &containerd__events__container_create__descriptor,
    &containerd__events__container_create__runtime__descriptor,
    &containerd__events__container_update__descriptor,
    &containerd__events__container_delete__descriptor,
    &containerd__events__content_create__descriptor,
    &containerd__events__content_delete__descriptor,
    &containerd__events__namespace_create__descriptor,
    &containerd__events__namespace_update__descriptor,
    &containerd__events__namespace_delete__descriptor,
    &containerd__events__snapshot_prepare__descriptor,
    &containerd__events__snapshot_commit__descriptor,
    &containerd__events__snapshot_remove__descriptor,
    &containerd__events__task_create__descriptor,
    &containerd__events__task_start__descriptor,
    &containerd__events__task_delete__descriptor,
    &containerd__events__task_io__descriptor,
    &containerd__events__task_exit__descriptor,
    &containerd__events__task_oom__descriptor,
    &containerd__events__task_exec_added__descriptor,
    &containerd__events__task_exec_started__descriptor,
    &containerd__events__task_paused__descriptor,
    &containerd__events__task_resumed__descriptor,
    &containerd__events__task_checkpointed__descriptor,
    &containerd__events__sandbox_create__descriptor,
    &containerd__events__sandbox_start__descriptor,
    &containerd__events__sandbox_exit__descriptor,
    // image events live in the images service package upstream
    &containerd__services__images__v1__image_create__descriptor,
    &containerd__services__images__v1__image_update__descriptor,
    &containerd__services__images__v1__image_delete__descriptor,
    // runc shim options
    &containerd__runc__v1__options__descriptor,
    &containerd__runc__v1__checkpoint_options__descriptor,
    &containerd__runc__v1__process_details__descriptor,
    // shared types
    &containerd__types__descriptor__descriptor,
    &containerd__types__mount__descriptor,
    &containerd__types__metric__descriptor,
    &containerd__types__platform__descriptor,
    &containerd__types__envelope__descriptor,
    &containerd__types__sandbox__descriptor,
    &containerd__types__sandbox__runtime__descriptor,
    &containerd__types__runtime_request__descriptor,
    &containerd__types__runtime_version__descriptor,
    &containerd__types__runtime_info__descriptor,
    &containerd__v1__types__process__descriptor,
    &containerd__v1__types__process_info__descriptor,
    &google__rpc__status__descriptor,
    &google__protobuf__empty__descriptor,
    // task metrics (Metric.data, shim StatsResponse.stats)
    &io__containerd__cgroups__v1__metrics__descriptor,
    &io__containerd__cgroups__v2__metrics__descriptor,
};

const ProtobufCMessageDescriptor *berth_api_find_message(const char *full_name)
{
    if (full_name == NULL)
        return NULL;
    // Tolerate "type.googleapis.com/x.y.Z" and "/x.y.Z": the message name follows the last '/'.
    const char *slash = strrchr(full_name, '/');
    if (slash != NULL)
        full_name = slash + 1;
    for (size_t i = 0; i < sizeof any_payloads / sizeof any_payloads[0]; i++) {
        if (strcmp(any_payloads[i]->name, full_name) == 0)
            return any_payloads[i];
    }
    return NULL;
}
