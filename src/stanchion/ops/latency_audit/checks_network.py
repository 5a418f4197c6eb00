"""§5.4 Network: checks 33–41."""

from __future__ import annotations

from stanchion.ops.latency_audit.hostfs import Unread
from stanchion.ops.latency_audit.model import (
    Result,
    SkipCheck,
    UnknownInput,
    failed,
    info,
    passed,
    warned,
)
from stanchion.ops.latency_audit.parse import (
    format_cpulist,
    parse_ethtool_coalesce,
    parse_ethtool_rings,
    parse_hexmask,
    parse_int,
)
from stanchion.ops.latency_audit.probe import Probe
from stanchion.ops.latency_audit.registry import check

NET = "/sys/class/net"


@check(
    "busy-poll", category="network", max_severity="warn", rank=14, source=("S9", "S11", "S1"),
    expected="busy_read and busy_poll > 0 (50/50), or SO_BUSY_POLL per socket",
    remediation="net.core.busy_read=50, net.core.busy_poll=50, or setsockopt(SO_BUSY_POLL) in the client",
)
def busy_poll(p: Probe) -> Result:
    paths = ("/proc/sys/net/core/busy_poll", "/proc/sys/net/core/busy_read")
    values: list[int] = []
    for path in paths:
        raw = p.text(path)
        if isinstance(raw, Unread) and raw.kind == "missing":
            if p.env.container:
                raise UnknownInput(f"{path} absent: net.core sysctls are hidden inside a network namespace")
            raise SkipCheck(f"{path} absent (CONFIG_NET_RX_BUSY_POLL off)")
    for path in paths:
        values.append(p.required_int(path))
    observed = f"busy_poll={values[0]} busy_read={values[1]}"
    if all(v > 0 for v in values):
        return passed(f"busy polling on ({observed})", observed)
    return warned(f"busy polling off ({observed}); per-socket SO_BUSY_POLL is the alternative", observed)


def physical_interfaces(p: Probe) -> list[str]:
    """Interfaces with a ``device`` entry (physical or virtio NICs)."""
    names = p.required_listdir(NET)
    return [n for n in names if p.present(f"{NET}/{n}/device")]


@check(
    "nic-coalescing", category="network", max_severity="warn", rank=10, source=("S19", "S11", "S24"),
    expected="adaptive RX off and rx-usecs <= 10 on the market-data NIC",
    remediation="ethtool -C <if> adaptive-rx off rx-usecs 0 (persist via NetworkManager/udev/systemd-networkd)",
)
def nic_coalescing(p: Probe) -> Result:
    interfaces = physical_interfaces(p)
    if not interfaces:
        raise SkipCheck("no physical interface (a pod sees only its veth)")
    results: dict[str, str] = {}
    slow: list[str] = []
    for name in interfaces:
        raw = p.command(f"ethtool-c-{name}", ["ethtool", "-c", name])
        if isinstance(raw, Unread):
            raise UnknownInput(f"ethtool -c {name}: {raw.describe()}")
        data = p.parse(f"ethtool -c {name}", raw, parse_ethtool_coalesce)
        usecs = "n/a" if data.rx_usecs is None else str(data.rx_usecs)
        results[name] = f"adaptive-rx {data.adaptive_rx}, rx-usecs {usecs}"
        if data.adaptive_rx == "on" or (data.rx_usecs is not None and data.rx_usecs > 10):
            slow.append(name)
    observed = "; ".join(f"{n}: {v}" for n, v in results.items())
    if slow:
        return warned(f"RX interrupt coalescing delays packets on {', '.join(slow)} ({observed})", observed)
    return passed(f"no RX coalescing delay ({observed})", observed)


@check(
    "nic-rings", category="network", max_severity="info", rank=None, source=("S19",),
    expected="a deliberate size (small rings drop bursts, large rings queue under overload)",
    remediation="ethtool -G <if> rx <n> tx <n>",
)
def nic_rings(p: Probe) -> Result:
    interfaces = physical_interfaces(p)
    if not interfaces:
        raise SkipCheck("no physical interface")
    shown = []
    for name in interfaces:
        raw = p.command(f"ethtool-g-{name}", ["ethtool", "-g", name])
        if isinstance(raw, Unread):
            raise UnknownInput(f"ethtool -g {name}: {raw.describe()}")
        rings = p.parse(f"ethtool -g {name}", raw, parse_ethtool_rings)
        shown.append(f"{name}: {rings.render()} (current/max)")
    return info("; ".join(shown), "; ".join(shown))


def _queue_masks(p: Probe, prefix: str, leaf: str) -> dict[str, frozenset[int]]:
    masks: dict[str, frozenset[int]] = {}
    for name in p.required_listdir(NET):
        queues_dir = f"{NET}/{name}/queues"
        if not p.present(queues_dir):
            continue
        for queue in p.required_listdir(queues_dir):
            if not queue.startswith(prefix):
                continue
            path = f"{queues_dir}/{queue}/{leaf}"
            raw = p.text(path)
            if isinstance(raw, Unread):
                if raw.kind == "missing":
                    continue
                raise UnknownInput(p.unread_problem(path, raw))
            masks[f"{name}/{queue}"] = p.parse(path, raw, parse_hexmask)
    return masks


@check(
    "rps-xps", category="network", max_severity="fail", rank=7, source=("S12", "S3"),
    expected="rps_cpus 0 or within the housekeeping CPUs",
    remediation="echo 0 > /sys/class/net/<if>/queues/rx-<n>/rps_cpus (or a mask within the housekeeping CPUs)",
)
def rps_xps(p: Probe) -> Result:
    isolated = p.isolated()
    rps = _queue_masks(p, "rx-", "rps_cpus")
    flows = p.optional_text("/proc/sys/net/core/rps_sock_flow_entries")
    flows_note = f"; rps_sock_flow_entries {flows.strip()}" if flows else ""
    if isolated:
        hits = [f"{q}->{format_cpulist(m & isolated)}" for q, m in rps.items() if m & isolated]
        if hits:
            return failed(f"RPS steers packets to isolated CPUs: {', '.join(hits)}{flows_note}",
                          f"{len(hits)} queue(s) on isolated CPUs")
        return passed(f"no RPS queue targets isolated CPUs ({len(rps)} rx queues){flows_note}", "no RPS on isolated")
    enabled = {q: m for q, m in rps.items() if m}
    if not enabled:
        return passed(f"RPS off on all {len(rps)} rx queues", "all 0")
    shown = ", ".join(f"{q}={format_cpulist(m)}" for q, m in enabled.items())
    return info(f"RPS enabled (no isolated CPUs to protect): {shown}{flows_note}", shown)


@check(
    "napi-deferral", category="network", max_severity="warn", rank=10, source=("S11",),
    expected="gro_flush_timeout 0 and napi_defer_hard_irqs 0",
    remediation="echo 0 > /sys/class/net/<if>/gro_flush_timeout and .../napi_defer_hard_irqs "
                "(unless used with SO_PREFER_BUSY_POLL by design)",
)
def napi_deferral(p: Probe) -> Result:
    found = False
    deferred: list[str] = []
    for name in p.required_listdir(NET):
        for leaf in ("gro_flush_timeout", "napi_defer_hard_irqs"):
            path = f"{NET}/{name}/{leaf}"
            raw = p.text(path)
            if isinstance(raw, Unread):
                if raw.kind == "missing":
                    continue
                raise UnknownInput(p.unread_problem(path, raw))
            found = True
            value = p.parse(path, raw, parse_int)
            if value > 0:
                deferred.append(f"{name} {leaf}={value}")
    if not found:
        raise SkipCheck("no gro_flush_timeout/napi_defer_hard_irqs files")
    if deferred:
        return warned(f"software IRQ deferral: {', '.join(deferred)}", ", ".join(deferred))
    return passed("no NAPI deferral on any interface", "0")


@check(
    "tcp-slow-start-after-idle", category="network", max_severity="warn", rank=16, source=("S10",),
    expected="0", remediation="net.ipv4.tcp_slow_start_after_idle=0",
)
def tcp_slow_start_after_idle(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/net/ipv4/tcp_slow_start_after_idle")
    if value == 0:
        return passed("cwnd kept across idle periods", "0")
    return warned("an idle WebSocket has its cwnd reset: the next burst takes extra RTTs", str(value))


@check(
    "tcp-low-latency-legacy", category="network", max_severity="info", rank=None, source=("S10",),
    expected="(no effect either way)", remediation="none: do not set it, it has no effect",
)
def tcp_low_latency_legacy(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/net/ipv4/tcp_low_latency")
    return info(f"tcp_low_latency={value}: legacy option, it has no effect anymore", str(value))


@check(
    "tcp-nodelay", category="network", max_severity="info", rank=4, source=("S19", "S26"),
    expected="TCP_NODELAY on every trading socket",
    remediation="setsockopt(IPPROTO_TCP, TCP_NODELAY, 1); optionally TCP_QUICKACK",
)
def tcp_nodelay(p: Probe) -> Result:
    return info("Nagle is per socket (TCP_NODELAY). With delayed ACK (40–200 ms) small writes can stall. CPython "
                "asyncio socket transports set TCP_NODELAY; verify the WebSocket/HTTP client does too.",
                "not observable host-wide")


@check(
    "tcp-autocorking", category="network", max_severity="info", rank=None, source=("S10",),
    expected="0 on some latency setups (optional)", remediation="net.ipv4.tcp_autocorking=0 (optional)",
)
def tcp_autocorking(p: Probe) -> Result:
    value = p.sysctl("/proc/sys/net/ipv4/tcp_autocorking")
    state = "on" if value else "off"
    return info(f"TCP autocorking {state}: small writes may coalesce while a prior packet is queued", str(value))

