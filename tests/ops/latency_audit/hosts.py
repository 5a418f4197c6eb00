"""The fixture hosts (spec §7.4): a well-tuned bare-metal host, a default cloud
VM, a restricted Kubernetes pod with unreadable paths. Each is a declarative
dict for :func:`hosttree.build`; the expected verdicts live in test_hosts.py."""

from __future__ import annotations

import struct
from typing import Any

from tests.ops.latency_audit.hosttree import COMMANDS, DENIED, DIR, ENV, Link, overlay

CPU = "/sys/devices/system/cpu"
THP = "/sys/kernel/mm/transparent_hugepage"
NET = "/sys/class/net"

X86_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush constant_tsc nonstop_tsc " \
            "tsc_known_freq rep_good nopl xtopology cpuid aperfmperf pni pclmulqdq"

SWAPS_EMPTY = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"

ETHTOOL_C_LOW = """Coalesce parameters for {name}:
Adaptive RX: off  TX: off
stats-block-usecs: n/a
sample-interval: n/a
pkt-rate-low: n/a

rx-usecs: 0
rx-frames: n/a
rx-usecs-irq: n/a
rx-frames-irq: n/a

tx-usecs: 0
tx-frames: n/a
"""

ETHTOOL_C_ADAPTIVE = """Coalesce parameters for {name}:
Adaptive RX: on  TX: off
stats-block-usecs: n/a

rx-usecs: 20
rx-frames: n/a

tx-usecs: 64
"""

ETHTOOL_G = """Ring parameters for {name}:
Pre-set maximums:
RX:\t\t4096
RX Mini:\tn/a
RX Jumbo:\tn/a
TX:\t\t4096
Current hardware settings:
RX:\t\t1024
RX Mini:\tn/a
RX Jumbo:\tn/a
TX:\t\t1024
"""


def dma_latency(us: int) -> bytes:
    return struct.pack("<i", us)


def cpuinfo(n: int, flags: str) -> str:
    return "".join(f"processor\t: {i}\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\n" for i in range(n))


def interrupts(n: int, rows: dict[int, list[int]]) -> str:
    header = "      " + "".join(f"CPU{i:<8}" for i in range(n)) + "\n"
    body = "".join(f"{irq:>4}: " + " ".join(f"{c:>10}" for c in counts) + "  PCI-MSIX  eno1-TxRx\n"
                   for irq, counts in rows.items())
    named = "LOC: " + " ".join(f"{1000:>10}" for _ in range(n)) + "  Local timer interrupts\n"
    return header + body + named


def limits(memlock: str) -> str:
    return (
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max cpu time              unlimited            unlimited            seconds   \n"
        f"Max locked memory         {memlock:<20} {memlock:<20} bytes     \n"
        "Max open files            1024                 524288               files     \n"
    )


def status(cpus: str, capeff: str = "0000000000000000") -> str:
    return f"Name:\tpython3\nState:\tR (running)\nVmLck:\t       0 kB\nCapEff:\t{capeff}\nCpus_allowed_list:\t{cpus}\n"


def cpus_block(n: int, *, idle_states: list[tuple[str, int, int]], governor: str | None) -> dict[str, Any]:
    """Per-CPU files for CPUs 0..n-1. idle_states: (name, latency us, disable)."""
    last = n - 1
    host: dict[str, Any] = {f"{CPU}/online": f"0-{last}\n", f"{CPU}/possible": f"0-{last}\n"}
    for cpu in range(n):
        host[f"{CPU}/cpu{cpu}/topology/thread_siblings_list"] = f"{cpu}\n"
        host[f"{CPU}/cpu{cpu}/power/pm_qos_resume_latency_us"] = "0\n"
        for index, (name, latency, disable) in enumerate(idle_states):
            base = f"{CPU}/cpu{cpu}/cpuidle/state{index}"
            host[f"{base}/name"] = f"{name}\n"
            host[f"{base}/latency"] = f"{latency}\n"
            host[f"{base}/disable"] = f"{disable}\n"
        if governor is not None:
            host[f"{CPU}/cpu{cpu}/cpufreq/scaling_governor"] = f"{governor}\n"
            host[f"{CPU}/cpu{cpu}/cpufreq/scaling_driver"] = "acpi-cpufreq\n"
    return host


SKX_STATES = [("POLL", 0, 0), ("C1", 2, 0), ("C1E", 10, 0), ("C6", 133, 1)]


def tuned_bare_metal(n: int = 8) -> dict[str, Any]:
    """Well-tuned bare-metal host: CPUs 2..n-1 isolated (cpu-partitioning), 2 NUMA nodes.
    Every check is pass, info or skip → exit 0."""
    last = n - 1
    iso = f"2-{last}"
    host: dict[str, Any] = {
        "/proc/cmdline": f"BOOT_IMAGE=/vmlinuz-6.8.0 root=/dev/sda1 ro isolcpus=managed_irq,domain,{iso} "
                         f"nohz_full={iso} rcu_nocbs={iso} irqaffinity=0-1 nosoftlockup intel_pstate=disable "
                         "intel_idle.max_cstate=1 skew_tick=1 tsc=reliable nosmt transparent_hugepage=never "
                         "-- splash\n",
        "/proc/sys/kernel/osrelease": "6.8.0-45-generic\n",
        "/proc/sys/kernel/version": "#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024\n",
        "/proc/cpuinfo": cpuinfo(n, X86_FLAGS),
        **cpus_block(n, idle_states=SKX_STATES, governor="performance"),
        f"{CPU}/isolated": f"{iso}\n",
        f"{CPU}/nohz_full": f"{iso}\n",
        f"{CPU}/cpufreq/boost": "1\n",
        f"{CPU}/cpuidle/current_driver": "intel_idle\n",
        f"{CPU}/cpuidle/current_governor_ro": "menu\n",
        "/dev/cpu_dma_latency": dma_latency(2_000_000_000),
        f"{CPU}/smt/active": "0\n",
        f"{CPU}/smt/control": "off\n",
        f"{CPU}/vulnerabilities/spectre_v2": "Mitigation: Enhanced / Automatic IBRS\n",
        f"{CPU}/vulnerabilities/meltdown": "Not affected\n",
        "/sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc\n",
        "/sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet acpi_pm \n",
        "/sys/devices/system/node/online": "0-1\n",
        "/proc/interrupts": interrupts(n, {0: [40] + [0] * (n - 1), 24: [1000, 2000] + [0] * (n - 2),
                                              25: [0, 500] + [0] * (n - 2)}),
        "/proc/irq/{0,24,25}/effective_affinity_list": "0-1\n",
        "/proc/irq/{0,24,25}/smp_affinity_list": "0-1\n",
        "/proc/irq/default_smp_affinity": "00000003\n",
        "/proc/1/comm": "systemd\n",
        "/proc/812/comm": "sshd\n",
        "/proc/1377/comm": "trader\n",
        "/sys/devices/virtual/workqueue/cpumask": "3\n",
        "/proc/sys/kernel/timer_migration": "0\n",
        "/proc/sys/kernel/nmi_watchdog": "0\n",
        "/proc/sys/kernel/soft_watchdog": "0\n",
        "/proc/sys/kernel/watchdog_cpumask": "0-1\n",
        "/proc/sys/kernel/sched_rt_runtime_us": "-1\n",
        "/proc/sys/kernel/numa_balancing": "0\n",
        f"{THP}/enabled": "always madvise [never]\n",
        f"{THP}/defrag": "always defer defer+madvise madvise [never]\n",
        f"{THP}/hpage_pmd_size": "2097152\n",
        f"{THP}/hugepages-2048kB/enabled": "always [inherit] madvise never\n",
        f"{THP}/hugepages-64kB/enabled": "always inherit madvise [never]\n",
        f"{THP}/khugepaged/defrag": "0\n",
        "/proc/sys/vm/compaction_proactiveness": "0\n",
        "/proc/sys/vm/compact_unevictable_allowed": "0\n",
        "/proc/swaps": SWAPS_EMPTY,
        "/proc/sys/vm/swappiness": "10\n",
        "/proc/sys/vm/zone_reclaim_mode": "0\n",
        "/sys/kernel/mm/ksm/run": "0\n",
        "/proc/sys/vm/stat_interval": "10\n",
        "/proc/self/limits": limits("unlimited"),
        "/proc/self/status": status(iso),
        "/proc/self/cgroup": "0::/system.slice/trader.service\n",
        "/proc/sys/net/core/busy_poll": "50\n",
        "/proc/sys/net/core/busy_read": "50\n",
        "/proc/sys/net/core/rps_sock_flow_entries": "0\n",
        "/sys/devices/pci0000:00/0000:00:1f.6/net/eno1/queues/rx-{0..1}/rps_cpus": "00\n",
        "/sys/devices/pci0000:00/0000:00:1f.6/net/eno1/queues/tx-{0..1}/xps_cpus": "01\n",
        "/sys/devices/pci0000:00/0000:00:1f.6/net/eno1/gro_flush_timeout": "0\n",
        "/sys/devices/pci0000:00/0000:00:1f.6/net/eno1/napi_defer_hard_irqs": "0\n",
        "/sys/devices/pci0000:00/0000:00:1f.6/net/eno1/device": Link("../../../0000:00:1f.6"),
        f"{NET}/eno1": Link("../../devices/pci0000:00/0000:00:1f.6/net/eno1"),
        "/sys/devices/virtual/net/lo/queues/rx-0/rps_cpus": "00\n",
        "/sys/devices/virtual/net/lo/gro_flush_timeout": "0\n",
        "/sys/devices/virtual/net/lo/napi_defer_hard_irqs": "0\n",
        f"{NET}/lo": Link("/sys/devices/virtual/net/lo"),
        "/proc/sys/net/ipv4/tcp_slow_start_after_idle": "0\n",
        "/proc/sys/net/ipv4/tcp_low_latency": "0\n",
        "/proc/sys/net/ipv4/tcp_autocorking": "0\n",
        "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
        "/sys/fs/cgroup/cpu.stat": "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n",
        "/sys/fs/cgroup/system.slice/cpu.max": "max 100000\n",
        "/sys/fs/cgroup/system.slice/cpu.stat": "usage_usec 1\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        "/sys/fs/cgroup/system.slice/trader.service/cpu.max": "max 100000\n",
        "/sys/fs/cgroup/system.slice/trader.service/cpu.stat":
            "usage_usec 1\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        "/etc/tuned/active_profile": "cpu-partitioning\n",
        "/etc/tuned/profile_mode": "manual\n",
        "/etc/tuned/cpu-partitioning-variables.conf": f"isolated_cores={iso}\n",
        ENV: {"PATH": "/usr/bin", "HOME": "/home/trader"},
        COMMANDS: {"ethtool-c-eno1": ETHTOOL_C_LOW.format(name="eno1"),
                   "ethtool-g-eno1": ETHTOOL_G.format(name="eno1")},
    }
    return host


TUNED_BARE_METAL_EXPECTED = {
    "cpu-governor": "pass", "cpu-epp": "skip", "cpu-min-perf-pct": "skip", "cpu-turbo": "info",
    "cstates": "pass", "vm-halt-poll": "skip", "smt": "pass", "tsc-flags": "pass", "clocksource": "pass",
    "cpu-isolation": "pass", "nohz-full": "pass", "rcu-nocbs": "pass", "irq-affinity": "pass",
    "irqbalance": "pass", "workqueue-cpumask": "pass", "timer-migration": "pass", "nmi-watchdog": "pass",
    "softlockup-watchdog": "pass", "sched-rt-runtime": "info", "preempt-model": "info",
    "thp-enabled": "pass", "thp-defrag": "pass", "thp-khugepaged": "pass", "compaction-proactiveness": "pass",
    "compact-unevictable": "pass", "swap": "pass", "swappiness": "pass", "numa-balancing": "pass",
    "zone-reclaim": "pass", "ksm": "pass", "vm-stat-interval": "pass", "memlock": "pass", "busy-poll": "pass",
    "nic-coalescing": "pass", "nic-rings": "info", "rps-xps": "pass", "napi-deferral": "pass",
    "tcp-slow-start-after-idle": "pass", "tcp-low-latency-legacy": "info", "tcp-nodelay": "info",
    "tcp-autocorking": "info", "cgroup-cpu-quota": "pass", "cgroup-throttling": "pass",
    "k8s-cpu-manager": "skip", "cpu-mitigations": "info", "tuned-profile": "info",
}


def default_cloud_vm() -> dict[str, Any]:
    """A default 4-vCPU Xen-era cloud VM: hypervisor flag, xen clocksource, THP always, SMT siblings,
    swap file, cgroup v1. No isolation, no tuning → exit 1 (clocksource and THP fail)."""
    host: dict[str, Any] = {
        "/proc/cmdline": "BOOT_IMAGE=/boot/vmlinuz-5.10.223 root=UUID=1234 ro console=ttyS0 nvme_core.io_timeout=4294967295\n",
        "/proc/sys/kernel/osrelease": "5.10.223-212.873.amzn2.x86_64\n",
        "/proc/sys/kernel/version": "#1 SMP Wed Aug 7 16:53:32 UTC 2024\n",
        "/proc/cpuinfo": cpuinfo(4, X86_FLAGS + " hypervisor"),
        **cpus_block(4, idle_states=[], governor=None),
        f"{CPU}/isolated": "\n",
        f"{CPU}/cpuidle/current_driver": "none\n",
        f"{CPU}/smt/active": "1\n",
        f"{CPU}/smt/control": "on\n",
        f"{CPU}/cpu{{0,2}}/topology/thread_siblings_list": "0,2\n",
        f"{CPU}/cpu{{1,3}}/topology/thread_siblings_list": "1,3\n",
        f"{CPU}/vulnerabilities/spectre_v2": "Mitigation: Retpolines, STIBP: disabled\n",
        f"{CPU}/vulnerabilities/mds": "Vulnerable: Clear CPU buffers attempted, no microcode; SMT Host state unknown\n",
        "/sys/devices/system/clocksource/clocksource0/current_clocksource": "xen\n",
        "/sys/devices/system/clocksource/clocksource0/available_clocksource": "xen tsc hpet acpi_pm \n",
        "/sys/hypervisor/type": "xen\n",
        "/sys/class/dmi/id/sys_vendor": "Xen\n",
        "/sys/class/dmi/id/product_name": "HVM domU\n",
        "/sys/devices/system/node/online": "0\n",
        "/proc/interrupts": interrupts(4, {24: [100, 0, 0, 0]}),
        "/proc/irq/24/smp_affinity_list": "0-3\n",
        "/proc/irq/default_smp_affinity": "f\n",
        "/proc/1/comm": "systemd\n",
        "/proc/402/comm": "irqbalance\n",
        "/sys/devices/virtual/workqueue/cpumask": "f\n",
        "/proc/sys/kernel/timer_migration": "1\n",
        "/proc/sys/kernel/nmi_watchdog": "0\n",
        "/proc/sys/kernel/soft_watchdog": "1\n",
        "/proc/sys/kernel/watchdog_cpumask": "0-3\n",
        "/proc/sys/kernel/sched_rt_runtime_us": "950000\n",
        "/proc/sys/kernel/numa_balancing": "1\n",
        f"{THP}/enabled": "[always] madvise never\n",
        f"{THP}/defrag": "always defer defer+madvise [madvise] never\n",
        f"{THP}/hpage_pmd_size": "2097152\n",
        f"{THP}/khugepaged/defrag": "1\n",
        f"{THP}/khugepaged/pages_to_scan": "4096\n",
        f"{THP}/khugepaged/scan_sleep_millisecs": "10000\n",
        "/proc/sys/vm/compaction_proactiveness": "20\n",
        "/proc/sys/vm/compact_unevictable_allowed": "1\n",
        "/proc/swaps": SWAPS_EMPTY + "/swapfile                               file\t\t2097148\t\t10240\t\t-2\n",
        "/proc/sys/vm/swappiness": "60\n",
        "/proc/sys/vm/zone_reclaim_mode": "0\n",
        "/proc/sys/vm/stat_interval": "1\n",
        "/proc/self/limits": limits("65536"),
        "/proc/self/status": status("0-3"),
        "/proc/self/cgroup": "11:cpuset:/\n4:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/session-1.scope\n",
        "/proc/sys/net/core/busy_poll": "0\n",
        "/proc/sys/net/core/busy_read": "0\n",
        "/sys/devices/vif-0/net/eth0/queues/rx-{0..1}/rps_cpus": "0\n",
        "/sys/devices/vif-0/net/eth0/gro_flush_timeout": "0\n",
        "/sys/devices/vif-0/net/eth0/napi_defer_hard_irqs": "0\n",
        "/sys/devices/vif-0/net/eth0/device": Link("../../../vif-0"),
        f"{NET}/eth0": Link("/sys/devices/vif-0/net/eth0"),
        f"{NET}/lo/queues/rx-0/rps_cpus": "0\n",
        "/proc/sys/net/ipv4/tcp_slow_start_after_idle": "1\n",
        "/proc/sys/net/ipv4/tcp_low_latency": "0\n",
        "/proc/sys/net/ipv4/tcp_autocorking": "1\n",
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        "/sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_quota_us": "-1\n",
        "/sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_period_us": "100000\n",
        "/sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
        "/sys/fs/cgroup/cpuset/cpuset.cpus": "0-3\n",
        ENV: {"PATH": "/usr/bin"},
        COMMANDS: {"ethtool-c-eth0": ETHTOOL_C_ADAPTIVE.format(name="eth0"),
                   "ethtool-g-eth0": ETHTOOL_G.format(name="eth0")},
    }
    return host


DEFAULT_CLOUD_VM_EXPECTED = {
    "cpu-governor": "skip", "cpu-epp": "skip", "cpu-min-perf-pct": "skip", "cpu-turbo": "skip",
    "cstates": "skip", "vm-halt-poll": "warn", "smt": "warn", "tsc-flags": "pass", "clocksource": "fail",
    "cpu-isolation": "warn", "nohz-full": "skip", "rcu-nocbs": "skip", "irq-affinity": "skip",
    "irqbalance": "skip", "workqueue-cpumask": "skip", "timer-migration": "warn", "nmi-watchdog": "pass",
    "softlockup-watchdog": "warn", "sched-rt-runtime": "info", "preempt-model": "info",
    "thp-enabled": "fail", "thp-defrag": "warn", "thp-khugepaged": "warn", "compaction-proactiveness": "warn",
    "compact-unevictable": "warn", "swap": "warn", "swappiness": "warn", "numa-balancing": "info",
    "zone-reclaim": "pass", "ksm": "skip", "vm-stat-interval": "warn", "memlock": "warn", "busy-poll": "warn",
    "nic-coalescing": "warn", "nic-rings": "info", "rps-xps": "pass", "napi-deferral": "pass",
    "tcp-slow-start-after-idle": "warn", "tcp-low-latency-legacy": "info", "tcp-nodelay": "info",
    "tcp-autocorking": "info", "cgroup-cpu-quota": "pass", "cgroup-throttling": "pass",
    "k8s-cpu-manager": "skip", "cpu-mitigations": "info", "tuned-profile": "info",
}


def restricted_k8s_pod() -> dict[str, Any]:
    """A pod (cgroup v2 + cgroupns, own netns and PID namespace) on an untuned 16-CPU bare-metal
    node with CPUs 8-15 isolated by the node. Hardened profile: /proc/irq, /dev/cpu_dma_latency,
    the vulnerabilities directory and khugepaged settings are unreadable. CPU limit 2 CPUs over
    a 16-CPU cpuset, throttled → exit 1."""
    n = 16
    host: dict[str, Any] = {
        "/proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 ro isolcpus=8-15\n",
        "/proc/sys/kernel/osrelease": "6.1.0-25-amd64\n",
        "/proc/sys/kernel/version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.106-3 (2024-08-26)\n",
        "/proc/cpuinfo": cpuinfo(n, X86_FLAGS),
        **cpus_block(n, idle_states=[*SKX_STATES[:3], ("C6", 133, 0)], governor="performance"),
        f"{CPU}/isolated": "8-15\n",
        f"{CPU}/cpuidle/current_driver": "intel_idle\n",
        f"{CPU}/smt/active": "0\n",
        f"{CPU}/smt/control": "notsupported\n",
        f"{CPU}/vulnerabilities": DENIED,
        "/dev/cpu_dma_latency": DENIED,
        "/sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc\n",
        "/sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet acpi_pm \n",
        "/sys/devices/system/node/online": "0\n",
        "/proc/interrupts": interrupts(n, {24: [5] * n}),
        "/proc/irq/**": DENIED,
        "/proc/1/comm": "pause\n",
        "/proc/7/comm": "trader\n",
        "/sys/devices/virtual/workqueue/cpumask": "ffff\n",
        "/proc/sys/kernel/timer_migration": "1\n",
        "/proc/sys/kernel/nmi_watchdog": "1\n",
        "/proc/sys/kernel/soft_watchdog": "1\n",
        "/proc/sys/kernel/watchdog_cpumask": "0-7\n",
        "/proc/sys/kernel/sched_rt_runtime_us": "950000\n",
        "/proc/sys/kernel/numa_balancing": "0\n",
        f"{THP}/enabled": "always [madvise] never\n",
        f"{THP}/defrag": "always defer defer+madvise [madvise] never\n",
        f"{THP}/hpage_pmd_size": "2097152\n",
        f"{THP}/khugepaged": DENIED,
        "/proc/sys/vm/compaction_proactiveness": "20\n",
        "/proc/sys/vm/compact_unevictable_allowed": "1\n",
        "/proc/swaps": SWAPS_EMPTY,
        "/proc/sys/vm/swappiness": "60\n",
        "/proc/sys/vm/zone_reclaim_mode": "0\n",
        "/sys/kernel/mm/ksm/run": "0\n",
        "/proc/sys/vm/stat_interval": "1\n",
        "/proc/self/limits": limits("8388608"),
        "/proc/self/status": status("0-15", capeff="00000000a80425fb"),
        "/proc/self/cgroup": "0::/\n",
        "/sys/devices/virtual/net/eth0/queues/rx-0/rps_cpus": "0000\n",
        f"{NET}/eth0": Link("../../devices/virtual/net/eth0"),
        f"{NET}/lo": Link("../../devices/virtual/net/lo"),
        "/sys/devices/virtual/net/lo/queues/rx-0/rps_cpus": "0000\n",
        "/proc/sys/net/ipv4/tcp_slow_start_after_idle": "1\n",
        "/proc/sys/net/ipv4/tcp_low_latency": "0\n",
        "/proc/sys/net/ipv4/tcp_autocorking": "1\n",
        "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids\n",
        "/sys/fs/cgroup/cpu.max": "200000 100000\n",
        "/sys/fs/cgroup/cpu.stat": "usage_usec 987654321\nuser_usec 900000000\nsystem_usec 87654321\n"
                                   "nr_periods 50000\nnr_throttled 1234\nthrottled_usec 45678901\n",
        "/var/run/secrets/kubernetes.io/serviceaccount/token": "not-a-real-token\n",
        "/.dockerenv": "",
        "/etc/hostname": "trader-0\n",
        ENV: {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "HOSTNAME": "trader-0"},
        COMMANDS: {},
    }
    return host


RESTRICTED_K8S_POD_EXPECTED = {
    "cpu-governor": "pass", "cpu-epp": "skip", "cpu-min-perf-pct": "skip", "cpu-turbo": "skip",
    # C6 (133 us) is enabled: would fail, but PM QoS is unreadable → downgraded to warn
    "cstates": "warn", "vm-halt-poll": "skip", "smt": "pass", "tsc-flags": "pass", "clocksource": "pass",
    "cpu-isolation": "pass", "nohz-full": "warn", "rcu-nocbs": "warn", "irq-affinity": "unknown",
    "irqbalance": "unknown", "workqueue-cpumask": "warn", "timer-migration": "warn", "nmi-watchdog": "warn",
    "softlockup-watchdog": "pass", "sched-rt-runtime": "info", "preempt-model": "info",
    "thp-enabled": "warn", "thp-defrag": "warn", "thp-khugepaged": "unknown", "compaction-proactiveness": "warn",
    "compact-unevictable": "warn", "swap": "pass", "swappiness": "pass", "numa-balancing": "pass",
    "zone-reclaim": "pass", "ksm": "pass", "vm-stat-interval": "warn", "memlock": "warn",
    "busy-poll": "unknown", "nic-coalescing": "skip", "nic-rings": "skip", "rps-xps": "pass",
    "napi-deferral": "skip", "tcp-slow-start-after-idle": "warn", "tcp-low-latency-legacy": "info",
    "tcp-nodelay": "info", "tcp-autocorking": "info", "cgroup-cpu-quota": "fail", "cgroup-throttling": "fail",
    "k8s-cpu-manager": "warn", "cpu-mitigations": "info", "tuned-profile": "info",
}

HOSTS = {
    "tuned-bare-metal": (tuned_bare_metal, TUNED_BARE_METAL_EXPECTED, 0),
    "default-cloud-vm": (default_cloud_vm, DEFAULT_CLOUD_VM_EXPECTED, 1),
    "restricted-k8s-pod": (restricted_k8s_pod, RESTRICTED_K8S_POD_EXPECTED, 1),
}

__all__ = ["DENIED", "DIR", "HOSTS", "Link", "overlay"]
