"""The lab's network: the bridge the hosts hang on, its address, NAT to the outside and IP forwarding."""

from __future__ import annotations

from pathlib import Path

from maestro.lab.system import run
from maestro.lab.topology import BRIDGE, GATEWAY, LAB_DIR, NETWORK, NFT_TABLE


def _nft_ruleset() -> str:
    return (
        f"table inet {NFT_TABLE} {{\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        f'    iifname "{BRIDGE}" accept\n'
        f'    oifname "{BRIDGE}" ct state established,related accept\n'
        "  }\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    ip saddr {NETWORK} oifname != "{BRIDGE}" masquerade\n'
        "  }\n"
        "}\n"
    )


def up() -> None:
    """Create the bridge, its address and the NAT table; enable forwarding (the old value is kept to restore)."""
    if run(["ip", "link", "show", BRIDGE], check=False, capture=True).returncode != 0:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addrs = run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE], capture=True).stdout
    if f"{GATEWAY}/" not in addrs:
        run(["ip", "addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    run(["nft", "delete", "table", "inet", NFT_TABLE], check=False, capture=True)
    rules = LAB_DIR / "state" / "nft.conf"
    rules.write_text(_nft_ruleset())
    run(["nft", "-f", rules])
    saved = LAB_DIR / "state" / "ip_forward"
    fwd = Path("/proc/sys/net/ipv4/ip_forward")
    if not saved.exists():
        saved.write_text(fwd.read_text())
    fwd.write_text("1\n")


def down() -> None:
    """Remove the NAT table and the bridge; put `net.ipv4.ip_forward` back as it was."""
    run(["nft", "delete", "table", "inet", NFT_TABLE], check=False, capture=True)
    if run(["ip", "link", "show", BRIDGE], check=False, capture=True).returncode == 0:
        run(["ip", "link", "delete", BRIDGE])
    saved = LAB_DIR / "state" / "ip_forward"
    if saved.exists():
        Path("/proc/sys/net/ipv4/ip_forward").write_text(saved.read_text())
        saved.unlink()
