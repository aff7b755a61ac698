#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# hide-cgroup2.sh CMD [ARGS...]: runs CMD in a private mount namespace without the cgroup2
# mount a hybrid host has at /sys/fs/cgroup/unified (crun refuses that mixed layout and works
# with the v1 hierarchies alone; runc works either way). On a pure v1 or v2 host it just runs
# CMD. exec all the way down: CMD keeps the caller's pid (the bats helpers wait on it).
if grep -q '^[^ ]* /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts; then
    exec unshare --mount --propagation private \
        sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' hide-cgroup2 "$@"
fi
exec "$@"
