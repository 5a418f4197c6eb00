"""Per-check unit tables (spec §7.6): each row changes a few files of a well-tuned
4-CPU host (CPUs 2-3 isolated) and asserts one check's status and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ops.latency_audit.helpers import audit, verdict
from tests.ops.latency_audit.hosts import (
    ETHTOOL_C_ADAPTIVE,
    ETHTOOL_C_LOW,
    SWAPS_EMPTY,
    X86_FLAGS,
    cpuinfo,
    dma_latency,
    limits,
    status,
    tuned_bare_metal,
)
from tests.ops.latency_audit.hosttree import COMMANDS, DENIED, ENV, overlay

CPU = "/sys/devices/system/cpu"
THP = "/sys/kernel/mm/transparent_hugepage"
ENO1 = "/sys/devices/pci0000:00/0000:00:1f.6/net/eno1"
BASE_CMDLINE = "root=/dev/sda1 isolcpus=managed_irq,domain,2-3 nohz_full=2-3 nosoftlockup\n"

NO_ISOLATION: dict[str, Any] = {
    "/proc/cmdline": "root=/dev/sda1\n",
    f"{CPU}/isolated": "\n",
    f"{CPU}/nohz_full": None,
}
VM: dict[str, Any] = {"/proc/cpuinfo": cpuinfo(4, X86_FLAGS + " hypervisor")}
C6_ON: dict[str, Any] = {f"{CPU}/cpu{{0..3}}/cpuidle/state3/disable": "0\n"}
SWAP_ON = {"/proc/swaps": SWAPS_EMPTY + "/dev/sda2  partition\t8388604\t\t0\t\t-2\n"}
THP_MADVISE = {f"{THP}/enabled": "always [madvise] never\n"}
IRQBALANCE_RUNNING = {"/proc/402/comm": "irqbalance\n"}
CGROUP_LEAF = "/sys/fs/cgroup/system.slice/trader.service"
POD = {ENV: {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}}


def base() -> dict[str, Any]:
    return overlay(tuned_bare_metal(4), {"/proc/cmdline": BASE_CMDLINE})


# (check id, changes, expected status, substring of the message or None)
CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    # 1 cpu-governor
    ("cpu-governor", {}, "pass", "performance"),
    ("cpu-governor", {f"{CPU}/cpu1/cpufreq/scaling_governor": "powersave\n"}, "fail", "powersave on cpu1"),
    ("cpu-governor", {f"{CPU}/cpu{{0..3}}/cpufreq": None}, "skip", "no cpufreq"),
    ("cpu-governor", {f"{CPU}/cpu{{0..3}}/cpufreq": None,
                      f"{CPU}/cpufreq/policy0/scaling_governor": "schedutil\n"}, "fail", "schedutil on policy0"),
    ("cpu-governor", {f"{CPU}/cpu0/cpufreq/scaling_governor": DENIED}, "unknown", "permission denied"),
    ("cpu-governor", {f"{CPU}/cpu0/cpufreq/scaling_governor": "\n"}, "unknown", "empty"),
    # 2 cpu-epp
    ("cpu-epp", {}, "skip", "absent"),
    ("cpu-epp", {f"{CPU}/cpu{{0..3}}/cpufreq/energy_performance_preference": "performance\n"}, "pass", None),
    ("cpu-epp", {f"{CPU}/cpu{{0..3}}/cpufreq/energy_performance_preference": "performance\n",
                 f"{CPU}/cpu2/cpufreq/energy_performance_preference": "balance_power\n"}, "warn", "cpu2"),
    # 3 cpu-min-perf-pct
    ("cpu-min-perf-pct", {}, "skip", "intel_pstate absent"),
    ("cpu-min-perf-pct", {f"{CPU}/intel_pstate/min_perf_pct": "100\n"}, "pass", None),
    ("cpu-min-perf-pct", {f"{CPU}/intel_pstate/min_perf_pct": "42\n"}, "warn", "42%"),
    ("cpu-min-perf-pct", {f"{CPU}/intel_pstate/min_perf_pct": "lots\n"}, "unknown", "not an integer"),
    # 4 cpu-turbo
    ("cpu-turbo", {}, "info", "enabled"),
    ("cpu-turbo", {f"{CPU}/intel_pstate/no_turbo": "1\n"}, "info", "disabled"),
    ("cpu-turbo", {f"{CPU}/cpufreq/boost": None}, "skip", None),
    # 5 cstates
    ("cstates", {}, "pass", "10 us"),
    ("cstates", C6_ON, "fail", "133 us"),
    ("cstates", {**C6_ON, "/dev/cpu_dma_latency": DENIED}, "warn", "unverifiable"),
    ("cstates", {**C6_ON, "/dev/cpu_dma_latency": dma_latency(20)}, "pass", "PM QoS 20 us"),
    ("cstates", {**C6_ON, "/dev/cpu_dma_latency": b"\x01"}, "warn", "unparsable"),
    ("cstates", {f"{CPU}/cpu{{0..3}}/cpuidle/state2/latency": "11\n"}, "warn", "11 us"),
    ("cstates", {f"{CPU}/cpu{{0..3}}/cpuidle/state2/latency": "50\n"}, "warn", "50 us"),
    ("cstates", {f"{CPU}/cpu{{0..3}}/cpuidle/state2/latency": "51\n"}, "fail", "51 us"),
    ("cstates", {**C6_ON, "/proc/cmdline": BASE_CMDLINE.strip() + " idle=poll\n"}, "pass", "idle=poll"),
    ("cstates", {**C6_ON, f"{CPU}/cpuidle/current_driver": "none\n"}, "pass", "HLT"),
    ("cstates", {**C6_ON, f"{CPU}/cpuidle/current_driver": DENIED}, "unknown", "current_driver"),
    ("cstates", {**C6_ON, f"{CPU}/cpu{{0..3}}/power/pm_qos_resume_latency_us": "n/a\n"}, "pass", "0 us"),
    ("cstates", {**C6_ON, f"{CPU}/cpu{{0..3}}/power/pm_qos_resume_latency_us": "5\n"}, "pass", "2 us"),
    ("cstates", {**C6_ON, f"{CPU}/cpu{{0..3}}/power/pm_qos_resume_latency_us": DENIED}, "warn", "unverifiable"),
    ("cstates", {f"{CPU}/cpu0/cpuidle/state3/disable": "0\n"}, "pass", "isolated CPUs 2-3"),
    ("cstates", {**NO_ISOLATION, f"{CPU}/cpu0/cpuidle/state3/disable": "0\n"}, "fail", "C6 on cpu0"),
    ("cstates", {**C6_ON, f"{CPU}/isolated": DENIED}, "unknown", "isolated CPUs unknown"),
    ("cstates", {**C6_ON, f"{CPU}/cpu2/cpuidle/state3/latency": "deep\n"}, "unknown", "unparsable"),
    ("cstates", {**VM, f"{CPU}/cpuidle/current_driver": DENIED}, "skip", "virtual machine"),
    # 6 vm-halt-poll
    ("vm-halt-poll", {}, "skip", "not a virtual machine"),
    ("vm-halt-poll", {**VM, f"{CPU}/cpuidle/current_driver": "haltpoll\n",
                      "/sys/module/haltpoll/parameters/guest_halt_poll_ns": "200000\n"}, "pass", "200000 ns"),
    ("vm-halt-poll", {**VM, f"{CPU}/cpuidle/current_driver": "haltpoll\n",
                      "/sys/module/haltpoll/parameters/guest_halt_poll_ns": "0\n"}, "warn", "= 0"),
    ("vm-halt-poll", {**VM, f"{CPU}/cpuidle/current_driver": "none\n"}, "warn", "driver none"),
    ("vm-halt-poll", {**VM, f"{CPU}/cpuidle": None}, "warn", "driver none"),
    ("vm-halt-poll", {**VM, f"{CPU}/cpuidle/current_driver": "none\n",
                      "/proc/cmdline": "idle=poll\n"}, "pass", "idle=poll"),
    ("vm-halt-poll", {**VM, f"{CPU}/cpuidle/current_driver": DENIED}, "unknown", "permission denied"),
    # 7 smt
    ("smt", {}, "pass", "control is off"),
    ("smt", {f"{CPU}/smt/control": "on\n", f"{CPU}/smt/active": "1\n"}, "warn", "SMT active"),
    ("smt", {f"{CPU}/smt/control": "on\n", f"{CPU}/smt/active": "1\n",
             f"{CPU}/cpu{{0,2}}/topology/thread_siblings_list": "0,2\n"}, "warn", "cpu2~0"),
    ("smt", {f"{CPU}/smt/control": "notsupported\n", f"{CPU}/smt/active": "0\n"}, "pass", None),
    ("smt", {f"{CPU}/smt/control": "on\n", f"{CPU}/smt/active": "0\n"}, "pass", "inactive"),
    ("smt", {f"{CPU}/smt/control": "on\n", f"{CPU}/smt/active": DENIED}, "unknown", "permission denied"),
    ("smt", {f"{CPU}/smt": None, f"{CPU}/cpu{{1,3}}/topology/thread_siblings_list": "1,3\n"}, "warn", "siblings"),
    ("smt", {f"{CPU}/smt": None}, "pass", "no hyperthread siblings"),
    # 8 tsc-flags
    ("tsc-flags", {}, "pass", "constant_tsc nonstop_tsc"),
    ("tsc-flags", {"/proc/cpuinfo": cpuinfo(4, "fpu tsc constant_tsc")}, "warn", "nonstop_tsc"),
    ("tsc-flags", {"/proc/cpuinfo": "processor\t: 0\nFeatures\t: fp asimd\n"}, "skip", "not x86"),
    ("tsc-flags", {"/proc/cpuinfo": ""}, "unknown", "empty"),
    ("tsc-flags", {"/proc/cpuinfo": b"\x7fELF\x00\x01\x02"}, "unknown", "unparsable"),
    # 9 clocksource
    ("clocksource", {}, "pass", "tsc"),
    ("clocksource", {"/sys/devices/system/clocksource/clocksource0/current_clocksource": "kvm-clock\n"},
     "pass", "tsc is available"),
    ("clocksource", {"/sys/devices/system/clocksource/clocksource0/current_clocksource": "hpet\n"},
     "fail", "tsc is available"),
    ("clocksource", {"/sys/devices/system/clocksource/clocksource0/current_clocksource": "riscv_clocksource\n"},
     "warn", "unrecognised"),
    ("clocksource", {"/sys/devices/system/clocksource/clocksource0/current_clocksource": DENIED},
     "unknown", "denied"),
    # 10 cpu-isolation
    ("cpu-isolation", {}, "pass", "isolated 2-3"),
    ("cpu-isolation", NO_ISOLATION, "warn", "no CPU is isolated"),
    ("cpu-isolation", {f"{CPU}/isolated": "0-3\n"}, "warn", "no housekeeping"),
    ("cpu-isolation", {f"{CPU}/isolated": DENIED}, "unknown", "isolated CPUs unknown"),
    ("cpu-isolation", {f"{CPU}/isolated": "2-x\n"}, "unknown", "not a cpu list"),
    ("cpu-isolation", {**NO_ISOLATION, "/sys/fs/cgroup/cpuset.cpus.isolated": "3\n"}, "pass",
     "cgroup v2 isolated partitions"),
    ("cpu-isolation", {**NO_ISOLATION, "/proc/cmdline": "isolcpus=nohz,domain,1-3\n"}, "pass", "isolcpus="),
    # 11 nohz-full
    ("nohz-full", {}, "pass", None),
    ("nohz-full", NO_ISOLATION, "skip", "no isolated CPUs"),
    ("nohz-full", {**NO_ISOLATION, "/proc/cmdline": "nohz_full=2-3\n"}, "fail", "CONFIG_NO_HZ_FULL"),
    ("nohz-full", {f"{CPU}/nohz_full": "(null)\n"}, "fail", "empty nohz_full set"),
    ("nohz-full", {f"{CPU}/nohz_full": "\n", "/proc/cmdline": "isolcpus=2-3\n"}, "warn", "periodic tick"),
    ("nohz-full", {f"{CPU}/nohz_full": "3\n", "/proc/cmdline": "isolcpus=2-3 nohz_full=3\n"}, "warn", "2"),
    ("nohz-full", {f"{CPU}/nohz_full": DENIED}, "unknown", "denied"),
    # 12 rcu-nocbs
    ("rcu-nocbs", {}, "pass", "nohz_full"),
    ("rcu-nocbs", NO_ISOLATION, "skip", "no isolated CPUs"),
    ("rcu-nocbs", {f"{CPU}/nohz_full": None, "/proc/cmdline": "isolcpus=2-3 rcu_nocbs=2-3\n"}, "pass", None),
    ("rcu-nocbs", {f"{CPU}/nohz_full": None, "/proc/cmdline": "isolcpus=2-3 rcu_nocbs\n"}, "pass", None),
    ("rcu-nocbs", {f"{CPU}/nohz_full": None, "/proc/cmdline": "isolcpus=2-3 rcu_nocbs=3\n"}, "warn", "2"),
    ("rcu-nocbs", {f"{CPU}/nohz_full": None, "/proc/cmdline": DENIED, f"{CPU}/isolated": "2-3\n"},
     "unknown", "/proc/cmdline"),
    # 13 irq-affinity
    ("irq-affinity", {}, "pass", "cpu2: 0"),
    ("irq-affinity", {"/proc/irq/24/effective_affinity_list": "2\n"}, "fail", "24->2"),
    ("irq-affinity", {"/proc/irq/default_smp_affinity": "f\n"}, "warn", "default_smp_affinity"),
    ("irq-affinity", {"/proc/irq/24/effective_affinity_list": None, "/proc/irq/24/smp_affinity_list": "0-3\n"},
     "fail", "24->2-3"),
    ("irq-affinity", {"/proc/irq/24": DENIED}, "unknown", "denied"),
    ("irq-affinity", {"/proc/irq/default_smp_affinity": "zz\n"}, "unknown", "not a hex cpu mask"),
    ("irq-affinity", {**NO_ISOLATION, "/proc/irq/**": DENIED}, "skip", "no isolated CPUs"),
    # 14 irqbalance
    ("irqbalance", {}, "pass", "not running"),
    ("irqbalance", IRQBALANCE_RUNNING, "pass", "default"),
    ("irqbalance", {**IRQBALANCE_RUNNING, "/etc/default/irqbalance": "# cfg\nIRQBALANCE_BANNED_CPULIST=2-3\n"},
     "pass", "covers"),
    ("irqbalance", {**IRQBALANCE_RUNNING, "/etc/sysconfig/irqbalance": 'IRQBALANCE_BANNED_CPULIST=""\n'},
     "fail", "empty"),
    ("irqbalance", {**IRQBALANCE_RUNNING, "/etc/sysconfig/irqbalance": "IRQBALANCE_BANNED_CPULIST=3\n"},
     "fail", "2"),
    ("irqbalance", {**IRQBALANCE_RUNNING, "/etc/sysconfig/irqbalance": "IRQBALANCE_BANNED_CPUS=0000000c\n"},
     "pass", None),
    ("irqbalance", {"/.dockerenv": "", "/proc/1/comm": "pause\n"}, "unknown", "PID namespace"),
    ("irqbalance", {"/proc/402/comm": DENIED, "/proc/402/cmdline": ""}, "unknown", "denied"),
    ("irqbalance", {**NO_ISOLATION, **IRQBALANCE_RUNNING}, "skip", None),
    # 15 workqueue-cpumask
    ("workqueue-cpumask", {}, "pass", None),
    ("workqueue-cpumask", {"/sys/devices/virtual/workqueue/cpumask": "0000000f\n"}, "warn", "2-3"),
    ("workqueue-cpumask", {"/sys/devices/virtual/workqueue/cpumask": None}, "skip", "absent"),
    ("workqueue-cpumask", {**NO_ISOLATION, "/sys/devices/virtual/workqueue/cpumask": "f\n"}, "skip", None),
    ("workqueue-cpumask", {"/sys/devices/virtual/workqueue/cpumask": "0x3\n"}, "unknown", "hex"),
    ("workqueue-cpumask", {"/sys/devices/virtual/workqueue/cpumask": DENIED}, "unknown", "denied"),
    # 16-17 sysctl switches
    ("timer-migration", {}, "pass", None),
    ("timer-migration", {"/proc/sys/kernel/timer_migration": "1\n"}, "warn", None),
    ("timer-migration", {"/proc/sys/kernel/timer_migration": None}, "skip", "absent"),
    ("timer-migration", {"/proc/sys/kernel/timer_migration": DENIED}, "unknown", "denied"),
    ("timer-migration", {"/proc/sys/kernel/timer_migration": "   \n"}, "unknown", "empty"),
    ("nmi-watchdog", {"/proc/sys/kernel/nmi_watchdog": "1\n"}, "warn", None),
    ("nmi-watchdog", {"/proc/sys/kernel/nmi_watchdog": None}, "skip", None),
    ("nmi-watchdog", {"/proc/sys/kernel/nmi_watchdog": "0\n"}, "pass", None),
    # 18 softlockup-watchdog
    ("softlockup-watchdog", {}, "pass", "off"),
    ("softlockup-watchdog", {"/proc/sys/kernel/soft_watchdog": "1\n"}, "pass", "nosoftlockup"),
    ("softlockup-watchdog", {"/proc/sys/kernel/soft_watchdog": "1\n", "/proc/cmdline": "isolcpus=2-3\n"},
     "pass", "0-1"),
    ("softlockup-watchdog", {"/proc/sys/kernel/soft_watchdog": "1\n", "/proc/cmdline": "isolcpus=2-3\n",
                             "/proc/sys/kernel/watchdog_cpumask": "0-3\n"}, "warn", "2-3"),
    ("softlockup-watchdog", {**NO_ISOLATION, "/proc/sys/kernel/soft_watchdog": "1\n"}, "warn", "every CPU"),
    ("softlockup-watchdog", {"/proc/sys/kernel/soft_watchdog": None}, "skip", None),
    # 19-20 info
    ("sched-rt-runtime", {}, "info", "off"),
    ("sched-rt-runtime", {"/proc/sys/kernel/sched_rt_runtime_us": "950000\n"}, "info", "950000"),
    ("sched-rt-runtime", {"/proc/sys/kernel/sched_rt_runtime_us": None}, "skip", None),
    ("preempt-model", {}, "info", "PREEMPT_DYNAMIC"),
    ("preempt-model", {"/sys/kernel/realtime": "1\n"}, "info", "PREEMPT_RT"),
    ("preempt-model", {"/sys/kernel/debug/sched/preempt": "none voluntary (full) lazy\n"}, "info", "(full)"),
    ("preempt-model", {"/proc/sys/kernel/version": "#1 SMP PREEMPT Mon\n"}, "info", "PREEMPT (full)"),
    # 21 thp-enabled
    ("thp-enabled", {}, "pass", "never"),
    ("thp-enabled", {f"{THP}/enabled": "[always] madvise never\n"}, "fail", "all anonymous memory"),
    ("thp-enabled", THP_MADVISE, "warn", "madvise"),
    ("thp-enabled", {f"{THP}/hugepages-2048kB/enabled": "[always] inherit madvise never\n"}, "fail", None),
    ("thp-enabled", {f"{THP}/hugepages-64kB/enabled": "[always] inherit madvise never\n"}, "warn", "64kB"),
    ("thp-enabled", {THP: None}, "pass", "not built"),
    ("thp-enabled", {f"{THP}/enabled": "\n"}, "unknown", "empty"),
    ("thp-enabled", {f"{THP}/enabled": "always madvise never\n"}, "unknown", "no [selected]"),
    ("thp-enabled", {f"{THP}/hugepages-2048kB/enabled": "\n"}, "unknown", "no [selected]"),
    # 22 thp-defrag
    ("thp-defrag", {}, "pass", "effectively off"),
    ("thp-defrag", {**THP_MADVISE, f"{THP}/defrag": "[always] defer defer+madvise madvise never\n"}, "fail", None),
    ("thp-defrag", {**THP_MADVISE, f"{THP}/defrag": "always [defer] defer+madvise madvise never\n"}, "pass", None),
    ("thp-defrag", {**THP_MADVISE, f"{THP}/defrag": "always defer [defer+madvise] madvise never\n"}, "warn", None),
    ("thp-defrag", {f"{THP}/defrag": "[always] defer defer+madvise madvise never\n"}, "pass", "effectively off"),
    ("thp-defrag", {f"{THP}/enabled": DENIED, f"{THP}/defrag": "[always] defer madvise never\n"},
     "unknown", "THP mode is unknown"),
    ("thp-defrag", {f"{THP}/enabled": DENIED}, "pass", "never"),
    ("thp-defrag", {**THP_MADVISE, f"{THP}/defrag": DENIED}, "unknown", "denied"),
    # 23 thp-khugepaged
    ("thp-khugepaged", {}, "pass", "effectively off"),
    ("thp-khugepaged", {**THP_MADVISE, f"{THP}/khugepaged/defrag": "1\n"}, "warn", None),
    ("thp-khugepaged", THP_MADVISE, "pass", None),
    ("thp-khugepaged", {**THP_MADVISE, f"{THP}/khugepaged/defrag": DENIED}, "unknown", "denied"),
    # 24-25
    ("compaction-proactiveness", {"/proc/sys/vm/compaction_proactiveness": "20\n"}, "warn", None),
    ("compaction-proactiveness", {"/proc/sys/vm/compaction_proactiveness": None}, "skip", None),
    ("compact-unevictable", {"/proc/sys/vm/compact_unevictable_allowed": "1\n"}, "warn", None),
    ("compaction-proactiveness", {"/proc/sys/vm/compaction_proactiveness": "0\n"}, "pass", None),
    ("compact-unevictable", {"/proc/sys/vm/compact_unevictable_allowed": "0\n"}, "pass", None),
    ("compact-unevictable", {"/proc/sys/vm/compact_unevictable_allowed": None}, "skip", None),
    # 26 swap
    ("swap", {}, "pass", "no swap"),
    ("swap", SWAP_ON, "warn", "/dev/sda2"),
    ("swap", {"/proc/swaps": None}, "pass", "without swap"),
    ("swap", {"/proc/swaps": ""}, "unknown", "empty"),
    ("swap", {"/proc/swaps": "hello world\n"}, "unknown", "header"),
    # 27 swappiness
    ("swappiness", {"/proc/sys/vm/swappiness": "60\n"}, "pass", "no swap"),
    ("swappiness", {**SWAP_ON, "/proc/sys/vm/swappiness": "60\n"}, "warn", "60"),
    ("swappiness", {**SWAP_ON, "/proc/sys/vm/swappiness": "10\n"}, "pass", None),
    ("swappiness", {"/proc/swaps": DENIED, "/proc/sys/vm/swappiness": "60\n"}, "unknown", "swap is active"),
    ("swappiness", {"/proc/swaps": DENIED, "/proc/sys/vm/swappiness": "1\n"}, "pass", None),
    # 28 numa-balancing
    ("numa-balancing", {}, "pass", None),
    ("numa-balancing", {"/proc/sys/kernel/numa_balancing": "1\n"}, "fail", "2 nodes"),
    ("numa-balancing", {"/proc/sys/kernel/numa_balancing": "1\n", "/sys/devices/system/node/online": "0\n"},
     "info", "one node"),
    ("numa-balancing", {"/proc/sys/kernel/numa_balancing": "1\n", "/sys/devices/system/node/online": DENIED},
     "unknown", "NUMA nodes unknown"),
    ("numa-balancing", {"/proc/sys/kernel/numa_balancing": None}, "pass", "not built"),
    # 29-31
    ("zone-reclaim", {"/proc/sys/vm/zone_reclaim_mode": "1\n"}, "warn", None),
    ("zone-reclaim", {"/proc/sys/vm/zone_reclaim_mode": "0\n"}, "pass", None),
    ("zone-reclaim", {"/proc/sys/vm/zone_reclaim_mode": DENIED}, "unknown", "denied"),
    ("ksm", {"/sys/kernel/mm/ksm/run": "2\n"}, "pass", None),
    ("ksm", {"/sys/kernel/mm/ksm/run": "1\n", "/sys/kernel/mm/ksm/pages_sharing": "77\n"}, "warn", "77"),
    ("ksm", {"/sys/kernel/mm/ksm/run": None}, "skip", None),
    ("vm-stat-interval", {"/proc/sys/vm/stat_interval": "9\n"}, "warn", None),
    ("vm-stat-interval", {"/proc/sys/vm/stat_interval": "ten\n"}, "unknown", None),
    ("vm-stat-interval", {"/proc/sys/vm/stat_interval": "120\n"}, "pass", None),
    # 32 memlock
    ("memlock", {}, "pass", "unlimited"),
    ("memlock", {"/proc/self/limits": limits("65536")}, "warn", "65536"),
    ("memlock", {"/proc/self/limits": limits("65536"), "/proc/self/status": status("2-3", "0000000000004000")},
     "pass", "CAP_IPC_LOCK"),
    ("memlock", {"/proc/self/limits": DENIED}, "unknown", "denied"),
    ("memlock", {"/proc/self/limits": "Max open files 1 1 files\n"}, "unknown", "Max locked memory"),
    ("memlock", {"/proc/self/limits": limits("65536"), "/proc/self/status": "garbage\n"}, "unknown", None),
    # 33 busy-poll
    ("busy-poll", {}, "pass", None),
    ("busy-poll", {"/proc/sys/net/core/busy_poll": "0\n"}, "warn", "busy_poll=0"),
    ("busy-poll", {"/proc/sys/net/core/busy_poll": None}, "skip", "CONFIG_NET_RX_BUSY_POLL"),
    ("busy-poll", {"/proc/sys/net/core": None, "/.dockerenv": ""}, "unknown", "network namespace"),
    # 34-35 NICs
    ("nic-coalescing", {}, "pass", "rx-usecs 0"),
    ("nic-coalescing", {COMMANDS: {"ethtool-c-eno1": ETHTOOL_C_ADAPTIVE.format(name="eno1")}}, "warn", "eno1"),
    ("nic-coalescing", {COMMANDS: {"ethtool-c-eno1": ETHTOOL_C_LOW.replace("rx-usecs: 0", "rx-usecs: 10")}},
     "pass", None),
    ("nic-coalescing", {COMMANDS: {"ethtool-c-eno1": ETHTOOL_C_LOW.replace("rx-usecs: 0", "rx-usecs: 11")}},
     "warn", None),
    ("nic-coalescing", {COMMANDS: {"ethtool-c-eno1": ETHTOOL_C_LOW.replace("rx-usecs: 0", "rx-usecs: n/a")}},
     "pass", "n/a"),
    ("nic-coalescing", {COMMANDS: {"ethtool-c-eno1": None}}, "unknown", "no captured output"),
    ("nic-coalescing", {COMMANDS: {"ethtool-c-eno1": "netlink error: Operation not supported\n"}}, "unknown",
     "unparsable"),
    ("nic-coalescing", {f"{ENO1}/device": None}, "skip", "no physical interface"),
    ("nic-coalescing", {"/sys/class/net": DENIED}, "unknown", "denied"),
    ("nic-rings", {}, "info", "RX 1024/4096"),
    ("nic-rings", {COMMANDS: {"ethtool-g-eno1": "Ring parameters for eno1:\n"}}, "unknown", "unparsable"),
    ("nic-rings", {f"{ENO1}/device": None}, "skip", None),
    # 36 rps-xps
    ("rps-xps", {}, "pass", None),
    ("rps-xps", {f"{ENO1}/queues/rx-1/rps_cpus": "0c\n"}, "fail", "eno1/rx-1->2-3"),
    ("rps-xps", {f"{ENO1}/queues/rx-1/rps_cpus": "03\n"}, "pass", None),
    ("rps-xps", {**NO_ISOLATION, f"{ENO1}/queues/rx-1/rps_cpus": "3\n"}, "info", "eno1/rx-1=0-1"),
    ("rps-xps", {**NO_ISOLATION}, "pass", "RPS off"),
    ("rps-xps", {f"{ENO1}/queues/rx-0": DENIED}, "unknown", "denied"),
    ("rps-xps", {"/sys/class/net/eno1/queues/rx-0": DENIED}, "unknown", "denied"),
    ("rps-xps", {f"{ENO1}/queues/rx-0/rps_cpus": "00000000,0000000g\n"}, "unknown", "hex"),
    # 37 napi-deferral
    ("napi-deferral", {}, "pass", None),
    ("napi-deferral", {f"{ENO1}/gro_flush_timeout": "20000\n"}, "warn", "eno1 gro_flush_timeout=20000"),
    ("napi-deferral", {f"{ENO1}/napi_defer_hard_irqs": "2\n"}, "warn", None),
    ("napi-deferral", {f"{ENO1}/gro_flush_timeout": None, f"{ENO1}/napi_defer_hard_irqs": None,
                       "/sys/devices/virtual/net/lo/gro_flush_timeout": None,
                       "/sys/devices/virtual/net/lo/napi_defer_hard_irqs": None}, "skip", None),
    # 38-41 TCP
    ("tcp-slow-start-after-idle", {"/proc/sys/net/ipv4/tcp_slow_start_after_idle": "1\n"}, "warn", None),
    ("tcp-slow-start-after-idle", {"/proc/sys/net/ipv4/tcp_slow_start_after_idle": None}, "skip", None),
    ("tcp-slow-start-after-idle", {"/proc/sys/net/ipv4/tcp_slow_start_after_idle": "0\n"}, "pass", None),
    ("tcp-low-latency-legacy", {"/proc/sys/net/ipv4/tcp_low_latency": "1\n"}, "info", "no effect"),
    ("tcp-low-latency-legacy", {"/proc/sys/net/ipv4/tcp_low_latency": None}, "skip", None),
    ("tcp-nodelay", {}, "info", "TCP_NODELAY"),
    ("tcp-autocorking", {"/proc/sys/net/ipv4/tcp_autocorking": "1\n"}, "info", "on"),
    ("tcp-autocorking", {"/proc/sys/net/ipv4/tcp_autocorking": None}, "skip", None),
    # 42 cgroup-cpu-quota
    ("cgroup-cpu-quota", {}, "pass", "no CFS bandwidth limit"),
    ("cgroup-cpu-quota", {f"{CGROUP_LEAF}/cpu.max": "100000 100000\n"}, "fail", "below the 2 allowed CPUs"),
    ("cgroup-cpu-quota", {f"{CGROUP_LEAF}/cpu.max": "200000 100000\n"}, "warn", "redundant"),
    ("cgroup-cpu-quota", {"/sys/fs/cgroup/system.slice/cpu.max": "50000 100000\n",
                          f"{CGROUP_LEAF}/cpu.max": "400000 100000\n"}, "fail", "/sys/fs/cgroup/system.slice"),
    ("cgroup-cpu-quota", {f"{CGROUP_LEAF}/cpu.max": None}, "pass", None),
    ("cgroup-cpu-quota", {"/sys/fs/cgroup/cgroup.controllers": "cpuset io memory\n"}, "skip", "cpu controller"),
    ("cgroup-cpu-quota", {f"{CGROUP_LEAF}/cpu.max": DENIED}, "unknown", "denied"),
    ("cgroup-cpu-quota", {f"{CGROUP_LEAF}/cpu.max": "lots 100000\n"}, "unknown", "cpu.max"),
    ("cgroup-cpu-quota", {"/proc/self/cgroup": DENIED}, "unknown", "denied"),
    ("cgroup-cpu-quota", {"/proc/self/cgroup": "nonsense\n"}, "unknown", "bad cgroup line"),
    ("cgroup-cpu-quota", {"/proc/self/cgroup": "0::/kubepods/pod1/abc\n", f"{CGROUP_LEAF}/cpu.max": None,
                          "/sys/fs/cgroup/cpu.max": "100000 100000\n"}, "fail", "not visible"),
    ("cgroup-cpu-quota", {"/sys/fs/cgroup": None, "/proc/self/cgroup": "4:cpu,cpuacct:/trader\n",
                          "/sys/fs/cgroup/cpu,cpuacct/trader/cpu.cfs_quota_us": "50000\n",
                          "/sys/fs/cgroup/cpu,cpuacct/trader/cpu.cfs_period_us": "100000\n"}, "fail", "0.50 CPUs"),
    ("cgroup-cpu-quota", {"/sys/fs/cgroup": None, "/proc/self/cgroup": "4:cpu,cpuacct:/trader\n",
                          "/sys/fs/cgroup/cpu,cpuacct/trader/cpu.cfs_quota_us": "-1\n"}, "pass", None),
    ("cgroup-cpu-quota", {"/sys/fs/cgroup": None}, "skip", "no cpu controller"),
    # 43 cgroup-throttling
    ("cgroup-throttling", {}, "pass", "never throttled"),
    ("cgroup-throttling", {f"{CGROUP_LEAF}/cpu.stat": "nr_periods 100\nnr_throttled 5\nthrottled_usec 250000\n"},
     "fail", "5/100 periods, 0.250 s"),
    ("cgroup-throttling", {f"{CGROUP_LEAF}/cpu.stat": "usage_usec 5\n",
                           "/sys/fs/cgroup/system.slice/cpu.stat": "usage_usec 5\n"}, "pass", "not enabled"),
    ("cgroup-throttling", {f"{CGROUP_LEAF}/cpu.stat": DENIED}, "unknown", "denied"),
    ("cgroup-throttling", {f"{CGROUP_LEAF}/cpu.stat": b"\x00\x01\x02"}, "unknown", "unparsable"),
    ("cgroup-throttling", {"/sys/fs/cgroup": None, "/proc/self/cgroup": "4:cpu,cpuacct:/\n",
                           "/sys/fs/cgroup/cpu,cpuacct/cpu.stat": "nr_periods 9\nnr_throttled 3\nthrottled_time 7000000000\n"},
     "fail", "3/9 periods, 7.000 s"),
    ("cgroup-throttling", {"/sys/fs/cgroup": None}, "skip", "no cpu controller"),
    # 44 k8s-cpu-manager
    ("k8s-cpu-manager", {}, "skip", "not Kubernetes"),
    ("k8s-cpu-manager", {"/var/lib/kubelet/cpu_manager_state": '{"policyName":"static","defaultCpuSet":"0-1"}'},
     "pass", "static"),
    ("k8s-cpu-manager", {"/var/lib/kubelet/cpu_manager_state": '{"policyName":"none"}'}, "warn", "none"),
    ("k8s-cpu-manager", {**POD, "/var/lib/kubelet/cpu_manager_state": "{not json"}, "unknown", "not JSON"),
    ("k8s-cpu-manager", POD, "pass", "exclusive cpuset"),
    ("k8s-cpu-manager", {**POD, "/proc/self/status": status("0-3")}, "warn", "shares all online CPUs"),
    ("k8s-cpu-manager", {**POD, f"{CGROUP_LEAF}/cpu.max": "200000 100000\n"}, "warn", "CFS quota"),
    ("k8s-cpu-manager", {**POD, "/proc/self/status": DENIED}, "unknown", "denied"),
    # 45-46
    ("cpu-mitigations", {}, "info", "spectre_v2"),
    ("cpu-mitigations", {"/proc/cmdline": "mitigations=off\n"}, "info", "mitigations=off"),
    ("cpu-mitigations", {"/proc/cmdline": DENIED, f"{CPU}/vulnerabilities": DENIED}, "unknown", None),
    ("tuned-profile", {}, "info", "cpu-partitioning"),
    ("tuned-profile", {"/etc/tuned/active_profile": "balanced\n"}, "info", "not a latency profile"),
    ("tuned-profile", {"/etc/tuned": None}, "info", "none"),
    ("tuned-profile", {"/etc/tuned/active_profile": DENIED}, "unknown", "denied"),
]


@pytest.mark.parametrize(("check_id", "changes", "expected", "reason"), CASES,
                         ids=[f"{c[0]}-{i}-{c[2]}" for i, c in enumerate(CASES)])
def test_check_table(tmp_path: Path, check_id: str, changes: dict[str, Any], expected: str,
                     reason: str | None) -> None:
    report = audit(tmp_path, overlay(base(), changes))
    assert not report.internal_errors
    status_, message = verdict(report, check_id)
    assert (status_, check_id) == (expected, check_id), message
    if reason is not None:
        assert reason in message


def test_every_check_has_a_table_row() -> None:
    from stanchion.ops.latency_audit import CHECK_IDS

    assert {c[0] for c in CASES} == set(CHECK_IDS)


def test_isolated_cpus_override(tmp_path: Path) -> None:
    report = audit(tmp_path, overlay(base(), NO_ISOLATION), isolated_cpus=frozenset({1, 2, 3}))
    assert report.facts.cpus.isolated == frozenset({1, 2, 3})
    assert verdict(report, "cpu-isolation")[0] == "pass"
    assert "--isolated-cpus" in verdict(report, "cpu-isolation")[1]
    assert verdict(report, "nohz-full") == ("warn", "isolated CPUs 1-3 still take the periodic tick")


def test_pid_option_reads_that_process(tmp_path: Path) -> None:
    host = overlay(base(), {"/proc/1377/limits": limits("1024"), "/proc/1377/status": status("2-3"),
                            "/proc/1377/cgroup": "0::/system.slice/trader.service\n"})
    report = audit(tmp_path, host, pid="1377")
    assert verdict(report, "memlock")[0] == "warn"
    assert "/proc/1377/limits" in next(v for v in report.verdicts if v.id == "memlock").inputs
