/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The default seccomp profile of containerd 1.6.20 (contrib/seccomp/seccomp_default.go), as
 * an OCI linux.seccomp object: deny (EPERM) by default, one big allow rule, personality and
 * clone argument filters, arch extras and capability-gated groups. libseccomp resolves the
 * names for the native architecture; a name it does not know is left out so runc never has to
 * reject the profile.
 */
#include "runtime/oci/seccomp.h"

#include <errno.h>
#include <sched.h> /* CLONE_NEW* for the non-admin clone filter */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include <seccomp.h>

#include "lib/util.h"

/* The unconditional allow rule, in containerd's order. */
static const char *const allow_names[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socket",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
};

/* personality(2) personas containerd allows: PER_LINUX, PER_LINUX32 with/without
 * UNAME26... and the 0xffffffff query. */
static const uint64_t personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Groups allowed only when the bounding set holds the capability; emitted in bounding-set
 * order, one rule per matching capability, as containerd's loop does. */
static const struct cap_group {
    const char *cap;
    const char *const *names;
} cap_groups[] = {
    {"CAP_DAC_READ_SEARCH", NAMES("open_by_handle_at")},
    {"CAP_SYS_ADMIN",
     NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
           "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
           "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname",
           "sethostname", "setns", "syslog", "umount", "umount2", "unshare")},
    {"CAP_SYS_BOOT", NAMES("reboot")},
    {"CAP_SYS_CHROOT", NAMES("chroot")},
    {"CAP_SYS_MODULE", NAMES("delete_module", "init_module", "finit_module")},
    {"CAP_SYS_PACCT", NAMES("acct")},
    {"CAP_SYS_PTRACE", NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                             "process_vm_writev", "ptrace")},
    {"CAP_SYS_RAWIO", NAMES("iopl", "ioperm")},
    {"CAP_SYS_TIME", NAMES("settimeofday", "stime", "clock_settime", "clock_settime64")},
    {"CAP_SYS_TTY_CONFIG", NAMES("vhangup")},
    {"CAP_SYS_NICE", NAMES("get_mempolicy", "mbind", "set_mempolicy")},
    {"CAP_SYSLOG", NAMES("syslog")},
    {"CAP_PERFMON", NAMES("perf_event_open")},
    {"CAP_BPF", NAMES("bpf")},
};

/* Native arch -> the profile's architectures (native first) and its extra syscalls. */
static const struct arch_info {
    uint32_t native;
    uint32_t arches[3];
    const char *const *extra;
} arch_table[] = {
    {SCMP_ARCH_X86_64,
     {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32},
     NAMES("arch_prctl", "modify_ldt")},
    {SCMP_ARCH_X86, {SCMP_ARCH_X86}, NAMES("modify_ldt")},
    {SCMP_ARCH_AARCH64,
     {SCMP_ARCH_AARCH64, SCMP_ARCH_ARM},
     NAMES("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
           "cacheflush", "set_tls")},
    {SCMP_ARCH_ARM,
     {SCMP_ARCH_ARM},
     NAMES("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
           "cacheflush", "set_tls")},
    {SCMP_ARCH_PPC64LE, {SCMP_ARCH_PPC64LE}, NAMES("sync_file_range2")},
    {SCMP_ARCH_S390X,
     {SCMP_ARCH_S390X, SCMP_ARCH_S390},
     NAMES("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr")},
    {SCMP_ARCH_RISCV64, {SCMP_ARCH_RISCV64}, NULL},
};

static const struct {
    uint32_t arch;
    const char *name;
} arch_names[] = {
    {SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64"},   {SCMP_ARCH_X86, "SCMP_ARCH_X86"},
    {SCMP_ARCH_X32, "SCMP_ARCH_X32"},         {SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64"},
    {SCMP_ARCH_ARM, "SCMP_ARCH_ARM"},         {SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE"},
    {SCMP_ARCH_S390X, "SCMP_ARCH_S390X"},     {SCMP_ARCH_S390, "SCMP_ARCH_S390"},
    {SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64"},
};

const char *berth_oci_seccomp_arch_name(uint32_t scmp_arch)
{
    for (size_t i = 0; i < BERTH_N(arch_names); i++)
        if (arch_names[i].arch == scmp_arch)
            return arch_names[i].name;
    return NULL;
}

/* A names array holding only what libseccomp knows for the native arch, or NULL if none. */
static json_t *known_names(uint32_t native, const char *const *names, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n && names[i]; i++)
        if (seccomp_syscall_resolve_name_arch(native, names[i]) != __NR_SCMP_ERROR)
            json_array_append_new(arr, json_string(names[i]));
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* Appends {names, action[, errnoRet][, args]} unless no name survives; steals args. */
static void add_rule(json_t *rules, uint32_t native, const char *const *names, size_t n,
                     const char *action, int errno_ret, json_t *args)
{
    json_t *arr = known_names(native, names, n);
    json_t *rule;

    if (!arr) {
        json_decref(args);
        return;
    }
    rule = json_object();
    json_object_set_new(rule, "names", arr);
    json_object_set_new(rule, "action", json_string(action));
    if (errno_ret >= 0)
        json_object_set_new(rule, "errnoRet", json_integer(errno_ret));
    if (args)
        json_object_set_new(rule, "args", args);
    json_array_append_new(rules, rule);
}

static size_t strv_n(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* One {index, value[, valueTwo], op} condition, valueTwo omitted when 0 as in Go. */
static json_t *arg_cond(unsigned index, uint64_t value, const char *op)
{
    json_t *args = json_array();
    json_t *a = json_object();

    json_object_set_new(a, "index", json_integer(index));
    json_object_set_new(a, "value", json_integer((json_int_t)value));
    json_object_set_new(a, "op", json_string(op));
    json_array_append_new(args, a);
    return args;
}

/* ptrace is safe to allow from 4.8 on (seccomp is re-checked after the tracer's changes). */
static bool kernel_at_least(int want_major, int want_minor)
{
    struct utsname u;
    int major = 0, minor = 0;

    if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return false;
    return major > want_major || (major == want_major && minor >= want_minor);
}

int berth_oci_seccomp_default_profile(const json_t *spec, json_t **out, struct berth_err **err)
{
    const struct arch_info *ai = NULL;
    const json_t *bounding;
    json_t *profile, *arches, *rules, *cap;
    uint32_t native;
    bool admin = false;
    size_t i;

    *out = NULL;
    if (!json_is_object(spec))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "spec is not a json object");
    native = seccomp_arch_native();
    for (i = 0; i < BERTH_N(arch_table); i++)
        if (arch_table[i].native == native)
            ai = &arch_table[i];
    if (!ai)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "no default seccomp profile for architecture 0x%x", native);
    bounding = json_object_get(json_object_get(json_object_get(spec, "process"), "capabilities"),
                               "bounding");

    profile = json_object();
    json_object_set_new(profile, "defaultAction", json_string("SCMP_ACT_ERRNO"));
    arches = json_array();
    for (i = 0; i < BERTH_N(ai->arches) && ai->arches[i]; i++)
        json_array_append_new(arches, json_string(berth_oci_seccomp_arch_name(ai->arches[i])));
    json_object_set_new(profile, "architectures", arches);
    rules = json_array();
    json_object_set_new(profile, "syscalls", rules);

    add_rule(rules, native, allow_names, BERTH_N(allow_names), "SCMP_ACT_ALLOW", -1, NULL);
    for (i = 0; i < BERTH_N(personalities); i++)
        add_rule(rules, native, NAMES("personality"), 1, "SCMP_ACT_ALLOW", -1,
                 arg_cond(0, personalities[i], "SCMP_CMP_EQ"));
    if (kernel_at_least(4, 8))
        add_rule(rules, native, NAMES("ptrace"), 1, "SCMP_ACT_ALLOW", -1, NULL);
    if (ai->extra)
        add_rule(rules, native, ai->extra, strv_n(ai->extra), "SCMP_ACT_ALLOW", -1, NULL);

    json_array_foreach(bounding, i, cap)
    {
        const char *name = json_string_value(cap);
        if (!name)
            continue;
        if (strcmp(name, "CAP_SYS_ADMIN") == 0)
            admin = true;
        for (size_t g = 0; g < BERTH_N(cap_groups); g++)
            if (strcmp(cap_groups[g].cap, name) == 0)
                add_rule(rules, native, cap_groups[g].names, strv_n(cap_groups[g].names),
                         "SCMP_ACT_ALLOW", -1, NULL);
    }

    if (!admin) {
        /* clone without namespace flags only; s390 swaps clone's first two arguments. */
        uint64_t ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                            CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
        unsigned idx = (native == SCMP_ARCH_S390X || native == SCMP_ARCH_S390) ? 1 : 0;
        add_rule(rules, native, NAMES("clone"), 1, "SCMP_ACT_ALLOW", -1,
                 arg_cond(idx, ns_flags, "SCMP_CMP_MASKED_EQ"));
        /* clone3's flags live in memory seccomp can't read: ENOSYS makes libc fall back to
         * clone instead of failing with EPERM. */
        add_rule(rules, native, NAMES("clone3"), 1, "SCMP_ACT_ERRNO", ENOSYS, NULL);
    }
    *out = profile;
    return 0;
}
